// A small PTX reader: only the directives that decide whether a launch fits
// (static shared memory, launch bounds), not the instructions.
#include "ptx_info.h"

#include <cctype>
#include <cstdlib>
#include <map>

namespace sharpmax_rt {

namespace {

std::string strip_comments(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '/' && i + 1 < text.size() && text[i + 1] == '/') {
            while (i < text.size() && text[i] != '\n') ++i;
            out += '\n';
        } else if (text[i] == '/' && i + 1 < text.size() && text[i + 1] == '*') {
            std::size_t end = text.find("*/", i + 2);
            i = end == std::string::npos ? text.size() : end + 1;
            out += ' ';
        } else {
            out += text[i];
        }
    }
    return out;
}

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || c == '.'; }

// The word that follows `directive` in `statement` ("" if the directive is absent).
std::string word_after(const std::string& statement, const std::string& directive) {
    std::size_t at = statement.find(directive);
    if (at == std::string::npos) return "";
    std::size_t i = at + directive.size();
    while (i < statement.size() && std::isspace(static_cast<unsigned char>(statement[i]))) ++i;
    std::size_t start = i;
    while (i < statement.size() && is_name_char(statement[i])) ++i;
    return statement.substr(start, i - start);
}

bool has_word(const std::string& statement, const std::string& word) {
    for (std::size_t at = statement.find(word); at != std::string::npos; at = statement.find(word, at + 1)) {
        bool left = at == 0 || !is_name_char(statement[at - 1]);
        bool right = at + word.size() >= statement.size() || !is_name_char(statement[at + word.size()]);
        if (left && right) return true;
    }
    return false;
}

int type_bytes(const std::string& type) {
    if (type.size() < 3) return 0;
    int bits = std::atoi(type.c_str() + 2);  // ".b8", ".f32", ".u64"…
    return bits / 8;
}

struct SharedVariable {
    std::string name;
    long long bytes = 0;
    long long align = 1;
};

// `.shared [.align A] .TYPE name[D1][D2]…` (not .extern: that is dynamic shared memory).
bool parse_shared(const std::string& statement, SharedVariable& v) {
    if (!has_word(statement, ".shared") || has_word(statement, ".extern")) return false;
    std::size_t i = statement.find(".shared") + 7;
    std::string type;
    long long align = 0;
    for (;;) {
        while (i < statement.size() && std::isspace(static_cast<unsigned char>(statement[i]))) ++i;
        if (i >= statement.size() || statement[i] != '.') break;
        std::size_t start = i;
        ++i;
        while (i < statement.size() && is_name_char(statement[i]) && statement[i] != '.') ++i;
        std::string token = statement.substr(start, i - start);
        if (token == ".align") {
            while (i < statement.size() && std::isspace(static_cast<unsigned char>(statement[i]))) ++i;
            align = std::atoll(statement.c_str() + i);
            while (i < statement.size() && std::isdigit(static_cast<unsigned char>(statement[i]))) ++i;
        } else if (token.size() >= 3 && (token[1] == 'b' || token[1] == 'u' || token[1] == 's' || token[1] == 'f')) {
            type = token;
        }
    }
    std::size_t start = i;
    while (i < statement.size() && is_name_char(statement[i])) ++i;
    v.name = statement.substr(start, i - start);
    long long bytes = type_bytes(type);
    while (i < statement.size()) {
        if (statement[i] == '[') {
            long long dim = std::atoll(statement.c_str() + i + 1);
            bytes *= dim;
        }
        ++i;
    }
    v.bytes = bytes;
    v.align = align > 0 ? align : (type_bytes(type) > 0 ? type_bytes(type) : 1);
    return !v.name.empty();
}

// Product of `.maxntid x[, y[, z]]` or `.reqntid …` in an entry header.
int launch_bound(const std::string& header) {
    for (const char* directive : {".maxntid", ".reqntid"}) {
        std::size_t at = header.find(directive);
        if (at == std::string::npos) continue;
        const char* p = header.c_str() + at + std::string(directive).size();
        long long product = 1;
        for (int d = 0; d < 3; ++d) {
            char* end = nullptr;
            long long n = std::strtoll(p, &end, 10);
            if (end == p) break;
            product *= n;
            p = end;
            while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') ++p;
            if (*p != ',') break;
            ++p;
        }
        return static_cast<int>(product);
    }
    return 0;
}

}  // namespace

bool parse_ptx(const std::string& ptx, PtxInfo& info, std::string& error) {
    const std::string text = strip_comments(ptx);
    if (text.find(".version") == std::string::npos || text.find(".target") == std::string::npos) {
        error = "the image is not PTX text (no .version/.target directive)";
        return false;
    }
    std::string target = word_after(text, ".target");
    std::size_t underscore = target.find('_');
    if (underscore != std::string::npos) info.target_arch = std::atoi(target.c_str() + underscore + 1);

    struct Body {
        bool entry;  // false: a .func body
        std::size_t begin, end;
        std::vector<SharedVariable> shared;
    };
    std::vector<Body> bodies;
    std::vector<SharedVariable> module_shared;
    std::string statement;
    int depth = 0;
    bool pending_entry = false;  // an .entry header waits for its '{'
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c != '{' && c != '}' && c != ';') {
            statement += c;
            continue;
        }
        if (depth == 0 && has_word(statement, ".entry")) {
            PtxEntryInfo entry;
            entry.name = word_after(statement, ".entry");
            entry.max_threads = launch_bound(statement.substr(statement.find(')') == std::string::npos ? 0 : statement.find(')')));
            info.entries.push_back(entry);
            pending_entry = c == '{';
            if (c == ';') info.entries.pop_back();  // a prototype, not a definition
        }
        SharedVariable v;
        if (parse_shared(statement, v)) {
            if (depth == 0)
                module_shared.push_back(v);
            else if (!bodies.empty() && bodies.back().end == 0)
                bodies.back().shared.push_back(v);
        }
        statement.clear();
        if (c == '{') {
            if (depth == 0) bodies.push_back(Body{pending_entry, i, 0, {}});
            pending_entry = false;
            ++depth;
        } else if (c == '}') {
            if (--depth < 0) {
                error = "unbalanced braces in the PTX";
                return false;
            }
            if (depth == 0 && !bodies.empty()) bodies.back().end = i;
        }
    }
    std::vector<Body> entry_bodies;
    for (Body& b : bodies)
        if (b.entry) entry_bodies.push_back(std::move(b));
    if (entry_bodies.size() != info.entries.size()) {
        error = "could not match the PTX's .entry bodies";
        return false;
    }
    for (std::size_t e = 0; e < entry_bodies.size(); ++e) {
        Body& b = entry_bodies[e];
        std::string body = text.substr(b.begin, b.end - b.begin);
        for (const SharedVariable& v : module_shared)
            if (has_word(body, v.name)) b.shared.push_back(v);
        long long offset = 0;
        for (const SharedVariable& v : b.shared) offset = (offset + v.align - 1) / v.align * v.align + v.bytes;
        info.entries[e].static_shared_bytes = static_cast<int>(offset);
    }
    return true;
}

}  // namespace sharpmax_rt
