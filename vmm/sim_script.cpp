// SPDX-License-Identifier: BSD-2-Clause
#include "sim_script.hpp"

#include <cstdio>
#include <sstream>
#include <vector>

#include "guestmem/sim.hpp"
#include "report/units.hpp"

namespace vmm {

namespace {

bool parse_number(const std::string& text, std::uint64_t& value) {
    if (text.empty()) return false;
    std::size_t used = 0;
    try {
        value = std::stoull(text, &used, 0);
    } catch (...) {
        return false;
    }
    return used == text.size();
}

std::string hex(std::uint64_t v) {
    char buffer[24];
    std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(v));
    return buffer;
}

struct Command {
    bool is_write = false;
    std::uint64_t addr = 0, size = 0, value = 0;
    bool expect = false;
    std::uint64_t expected = 0;
};

/// Parses one line's words; an error message if they are not a command.
std::string parse(const std::vector<std::string>& words, Command& cmd) {
    const std::string& verb = words[0];
    if (verb == "write" || verb == "w") {
        cmd.is_write = true;
    } else if (verb != "read" && verb != "r") {
        return "unknown command '" + verb + "' (expected read or write)";
    }
    const std::size_t wanted = cmd.is_write ? 4 : 3;
    if (words.size() != wanted && !(!cmd.is_write && words.size() == 5 && words[3] == "expect")) {
        return cmd.is_write ? "usage: write ADDR SIZE VALUE" : "usage: read ADDR SIZE [expect VALUE]";
    }
    if (!parse_number(words[1], cmd.addr)) return "bad address '" + words[1] + "'";
    if (!parse_number(words[2], cmd.size) || (cmd.size != 1 && cmd.size != 2 && cmd.size != 4 && cmd.size != 8)) {
        return "bad size '" + words[2] + "' (1, 2, 4 or 8)";
    }
    if (cmd.is_write && !parse_number(words[3], cmd.value)) return "bad value '" + words[3] + "'";
    if (words.size() == 5) {
        cmd.expect = true;
        if (!parse_number(words[4], cmd.expected)) return "bad expected value '" + words[4] + "'";
    }
    return {};
}

}  // namespace

ScriptResult run_script(std::istream& script, guestmem::Vcpu& vcpu, std::ostream& out) {
    ScriptResult result;
    std::string line;
    for (unsigned number = 1; std::getline(script, line); ++number) {
        if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        std::istringstream words_in(line);
        std::vector<std::string> words;
        for (std::string w; words_in >> w;) words.push_back(w);
        if (words.empty()) continue;

        Command cmd;
        if (std::string error = parse(words, cmd); !error.empty()) {
            out << "line " << number << ": syntax error: " << error << "\n";
            ++result.syntax_errors;
            continue;
        }
        ++result.accesses;
        // The access runs before its line is printed, so device output
        // (the UART's) lands on lines of its own.
        std::ostringstream line_out;
        line_out << "line " << number << ": " << (cmd.is_write ? "write " : "read  ") << cmd.size << " ["
                 << address(cmd.addr) << "]";
        if (cmd.is_write) {
            auto done = guestmem::sim::write(vcpu, cmd.addr, cmd.size, cmd.value);
            line_out << " = " << hex(cmd.value) << (done ? " -> ok" : " -> ERROR: " + done.error().message);
            if (!done) ++result.failed;
        } else if (auto value = guestmem::sim::read(vcpu, cmd.addr, cmd.size); !value) {
            line_out << " -> ERROR: " << value.error().message;
            ++result.failed;
        } else {
            line_out << " -> " << hex(*value);
            if (cmd.expect && *value != cmd.expected) {
                line_out << "  MISMATCH (expected " << hex(cmd.expected) << ")";
                ++result.mismatches;
            }
        }
        out << line_out.str() << "\n";
    }
    return result;
}

}  // namespace vmm
