// Every lazily loaded library is "missing" here (CTest sets AVA_LAZY_LIBS_DISABLE to all four,
// see CMakeLists.txt): the shims must fail the way their callers already handle, with the
// loader's line in the messages the user and the model see.
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <portaudio.h>

#include "ava/audio/devices.hpp"
#include "ava/audio/portaudio_device.hpp"
#include "ava/tools/tool.hpp"
#include "calendar/calendar_tool.hpp"
#include "support/http_client.hpp"
#include "voice.hpp"

namespace {

using std::string;

bool contains(const string& text, const string& part) {
    return text.find(part) != string::npos;
}

class lazy_fallback : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* env = std::getenv("AVA_LAZY_LIBS_DISABLE");
        if (env == nullptr || string(env).empty())
            GTEST_SKIP() << "run through ctest (it sets AVA_LAZY_LIBS_DISABLE)";
    }
};

const string pa_line =
    "PortAudio (libportaudio.so.2) could not be loaded: disabled by "
    "AVA_LAZY_LIBS_DISABLE";

}  // namespace

TEST_F(lazy_fallback, portaudio_initialize_fails_with_the_loaders_line) {
    const PaError err = Pa_Initialize();
    EXPECT_NE(err, paNoError);
    EXPECT_EQ(string(Pa_GetErrorText(err)), pa_line);
    EXPECT_LT(Pa_GetDeviceCount(), 0);
    EXPECT_EQ(Pa_GetDefaultInputDevice(), paNoDevice);
    EXPECT_EQ(Pa_GetDeviceInfo(0), nullptr);
    EXPECT_NE(Pa_Terminate(), paNoError);
}

TEST_F(lazy_fallback, portaudio_device_errors_name_the_missing_library) {
    try {
        static_cast<void>(ava::audio::list_devices());
        ADD_FAILURE() << "list_devices() without PortAudio";
    } catch (const std::exception& e) {
        EXPECT_EQ(string(e.what()), "PortAudio failed to start: " + pa_line);
    }
    try {
        static_cast<void>(ava::audio::open_portaudio_device({}));
        ADD_FAILURE() << "open_portaudio_device() without PortAudio";
    } catch (const std::exception& e) {
        EXPECT_TRUE(contains(e.what(), pa_line)) << e.what();
    }
}

TEST_F(lazy_fallback, http_tools_report_the_missing_libcurl) {
    const ava::tools::http_client http;
    try {
        static_cast<void>(http.request({.url = "http://127.0.0.1:9/", .service_name = "x"}));
        ADD_FAILURE() << "a request without libcurl";
    } catch (const ava::tools::tool_error& e) {
        EXPECT_EQ(string(e.what()),
                  "libcurl could not be initialised: libcurl (libcurl.so.4) could not be loaded: "
                  "disabled by AVA_LAZY_LIBS_DISABLE");
    }
}

TEST_F(lazy_fallback, calendar_reports_the_missing_libical) {
    const string line =
        "libical (libical.so.3) could not be loaded: disabled by "
        "AVA_LAZY_LIBS_DISABLE";
    using ava::tools::calendar_tool;
    EXPECT_EQ(calendar_tool::config_problem({.source = "x.ics", .timezone = "Europe/Berlin"}), line)
        << "not 'unknown time zone'";
    calendar_tool cal({.enabled = true, .source = "x.ics"},
                      std::make_shared<const ava::tools::http_client>());
    try {
        static_cast<void>(cal.call("{}", {}));
        ADD_FAILURE() << "a calendar call without libical";
    } catch (const ava::tools::tool_error& e) {
        EXPECT_EQ(string(e.what()), line);
    }
}

TEST_F(lazy_fallback, simulator_voice_falls_back_to_the_synthetic_voice) {
    using namespace ava::sim::detail;
    EXPECT_FALSE(espeak_available());
#if AVA_TEST_HAVE_ESPEAK
    EXPECT_TRUE(contains(espeak_load_error(), "espeak-ng (libespeak-ng.so.1) could not be loaded"))
        << espeak_load_error();
#endif
    const auto speech = synthesize("turn off the lights", "marin", 1.0, "espeak");
    ASSERT_TRUE(speech != nullptr);
    EXPECT_EQ(*speech, synth_tone("turn off the lights", "marin", 1.0));
}
