// ava-voice: parse the command line, load the config, then run the conversation.
// Everything lives in ava::app: the front end in src/app/cli.cpp, the run in src/app/run.cpp.
#include <iostream>

#include "ava/app/cli.hpp"
#include "ava/app/run.hpp"

int main(int argc, char** argv) {
    return ava::app::main_entry(argc, argv, ava::app::run, std::cout, std::cerr);
}
