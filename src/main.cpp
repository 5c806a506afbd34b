// ava-voice: parse the command line, load the config, then run the conversation.
// Everything but the conversation lives in ava::app (src/app/cli.cpp).
#include <iostream>

#include "ava/app/cli.hpp"
#include "ava/app/config.hpp"

namespace {

// STUB, the only one in the tree: the conversation is not built yet. The conversation work
// replaces this function with the real ava::app::run(config).
int run(const ava::app::config& cfg) {
    std::cout << ava::app::summary(cfg)
              << "\nava-voice: the conversation is not built yet (this build only loads and "
                 "checks the configuration).\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ava::app::main_entry(argc, argv, run, std::cout, std::cerr);
}
