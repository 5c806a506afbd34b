// ava-voice: parse the command line, load the config, then run the conversation (or the doctor).
// Everything lives in ava::app: the front end in src/app/cli.cpp, the run in src/app/run.cpp,
// the checks in src/app/doctor.cpp.
#include <iostream>

#include "ava/app/cli.hpp"
#include "ava/app/doctor.hpp"
#include "ava/app/run.hpp"
#include "ava/app/serve.hpp"

int main(int argc, char** argv) {
    const auto doctor = [](const ava::app::loaded_config& loaded, std::ostream& out) {
        return ava::app::doctor(loaded, out);
    };
    return ava::app::main_entry(argc, argv, ava::app::run, doctor, ava::app::serve, std::cout,
                                std::cerr);
}
