// SPDX-License-Identifier: BSD-2-Clause
#include "memory_map.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "units.hpp"

namespace vmm {

namespace {

std::string rights_of(const guestmem::ReservationInfo& info) {
    if (!info.mapped) return info.deferred ? "lazy" : "trap";
    bool read_write = false, read_only = false;
    for (const auto& run : info.runs) (run.writable() ? read_write : read_only) = true;
    if (read_write && read_only) return "mixed";
    if (read_write) return "rw";
    if (read_only) return "r-";
    return "--";
}

std::string pad(std::string s, std::size_t width) {
    if (s.size() < width) s.append(width - s.size(), ' ');
    return s;
}

std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

std::string count(std::size_t n, const char* noun) { return std::to_string(n) + " " + noun + (n == 1 ? "" : "s"); }

const char* colour_of(const std::string& kind) {
    if (kind == "RAM") return "#8fd19e";
    if (kind == "lazy RAM") return "#c3e6cb";
    if (kind == "ROM") return "#ffe08a";
    if (kind == "shared") return "#9ec5fe";
    if (kind == "MMIO") return "#f1aeb5";
    return "#dee2e6";
}

}  // namespace

std::vector<MapRow> memory_map(const Machine& machine) {
    std::vector<MapRow> rows;
    for (const auto& info : machine.vm().reservations()) {
        MapRow row;
        row.range = info.range;
        row.rights = rights_of(info);
        row.frames = info.frames;
        row.slots = info.runs.size();
        if (const RegionLabel* label = machine.label(info.id)) {
            row.name = label->name;
            row.kind = label->kind;
            row.backing = label->backing;
        } else {
            row.name = "?";
            row.kind = info.anonymous ? "anonymous" : "reserved";
            row.backing = info.mapped ? "frames" : "emulated";
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

std::string memory_map_table(const std::vector<MapRow>& rows) {
    std::ostringstream out;
    out << pad("range", 27) << pad("size", 10) << pad("name", 10) << pad("kind", 10) << pad("rights", 7)
        << pad("backing", 30) << pad("frames", 8) << "slots\n";
    std::size_t frames = 0, slots = 0;
    for (const auto& row : rows) {
        out << pad("[" + address(row.range.base) + ", " + address(row.range.end()) + ")", 27)
            << pad(human_size(row.range.size), 10) << pad(row.name, 10) << pad(row.kind, 10) << pad(row.rights, 7)
            << pad(row.backing, 30) << pad(std::to_string(row.frames), 8) << row.slots << "\n";
        frames += row.frames;
        slots += row.slots;
    }
    out << rows.size() << " reservations, " << frames << " frames mapped in " << slots << " memory slots\n";
    return out.str();
}

std::string memory_map_svg(const std::vector<MapRow>& rows, const std::string& title) {
    constexpr int kWidth = 760, kBarX = 150, kBarWidth = 180, kTop = 50, kGap = 26;
    // Heights: 22 px for the smallest region, growing with log2 of the size.
    auto height_of = [](std::uint64_t size) {
        return 22 + static_cast<int>(6 * std::log2(static_cast<double>(std::max<std::uint64_t>(size, 1))));
    };
    std::vector<MapRow> sorted = rows;
    std::sort(sorted.begin(), sorted.end(),
              [](const MapRow& a, const MapRow& b) { return a.range.base > b.range.base; });

    std::ostringstream body;
    int y = kTop;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
        const MapRow& row = sorted[i];
        const int h = height_of(row.range.size);
        body << "  <g class=\"region\" data-name=\"" << escape(row.name) << "\">\n"
             << "    <rect x=\"" << kBarX << "\" y=\"" << y << "\" width=\"" << kBarWidth << "\" height=\"" << h
             << "\" fill=\"" << colour_of(row.kind) << "\" stroke=\"#343a40\"/>\n"
             << "    <text x=\"" << kBarX + kBarWidth / 2 << "\" y=\"" << y + h / 2 + 5
             << "\" text-anchor=\"middle\" font-weight=\"bold\">" << escape(row.name) << "</text>\n"
             << "    <text x=\"" << kBarX - 8 << "\" y=\"" << y + h - 3 << "\" text-anchor=\"end\">"
             << address(row.range.base) << "</text>\n"
             << "    <text x=\"" << kBarX + kBarWidth + 12 << "\" y=\"" << y + h / 2 + 5 << "\">"
             << escape(human_size(row.range.size) + "  " + row.kind + "  " + row.rights + "  " + row.backing +
                       (row.frames ? "  (" + count(row.frames, "frame") + ", " + count(row.slots, "slot") + ")" : ""))
             << "</text>\n  </g>\n";
        y += h;
        if (i + 1 < sorted.size()) {
            const std::uint64_t gap = row.range.base - sorted[i + 1].range.end();
            if (gap > 0) {
                body << "  <g class=\"gap\">\n    <path d=\"M" << kBarX << " " << y + 4
                     << " l 20 6 l 20 -6 l 20 6 l 20 -6 l 20 6 l 20 -6 l 20 6 l 20 -6 l 20 6\" fill=\"none\" "
                        "stroke=\"#adb5bd\"/>\n"
                     << "    <text x=\"" << kBarX + kBarWidth + 12 << "\" y=\"" << y + kGap / 2 + 5
                     << "\" fill=\"#6c757d\">gap of " << escape(human_size(gap)) << " (not to scale)</text>\n  </g>\n";
                y += kGap;
            }
        }
    }
    std::ostringstream svg;
    svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << y + 30
        << "\" font-family=\"monospace\" font-size=\"12\">\n"
        << "  <title>" << escape(title) << "</title>\n"
        << "  <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        << "  <text x=\"20\" y=\"28\" font-size=\"16\" font-weight=\"bold\">" << escape(title) << "</text>\n"
        << body.str() << "  <text x=\"20\" y=\"" << y + 20
        << "\" fill=\"#6c757d\">Heights grow with log2(size); gaps are shortened. High addresses on top.</text>\n"
        << "</svg>\n";
    return svg.str();
}

}  // namespace vmm
