// libical loaded on first use (AVA_LAZY_LIBS; why: include/ava/core/lazy_library.hpp).
//
// Defines the ical* functions that calendar_tool.cpp calls, with ical.h's own declarations (so
// the compiler checks every signature, including the struct icaltimetype ones passed and returned
// by value, which forward exactly because the types are the header's), each forwarding to the
// real one in libical.so.3, dlopen'ed by the first calendar call (or by the configuration check
// of a configured calendar). A conversation that never asks for the calendar does not map libical
// and ICU.
//
// When the library cannot be loaded, every function returns its "nothing" value (null pointers,
// null times, ICAL_NO_COMPONENT, no-ops), icalerrno reads ICAL_INTERNAL_ERROR, and
// icalerror_strerror returns the loader's line for any code. icaltimezone_get_utc_timezone is
// never null with a real libical, which is how calendar_tool.cpp tells a missing library apart
// and reports that line. AVA_LAZY_LIBS_DISABLE=ical makes it behave so on purpose.
#include <cstddef>

#include <libical/ical.h>

#include "ava/core/lazy_library.hpp"

namespace {

#define AVA_LIBICAL_SYMBOLS(X)           \
    X(icalerrno_return)                  \
    X(icalerror_strerror)                \
    X(icalparser_parse_string)           \
    X(icalcomponent_free)                \
    X(icalcomponent_isa)                 \
    X(icalcomponent_get_parent)          \
    X(icalcomponent_get_first_component) \
    X(icalcomponent_get_next_component)  \
    X(icalcomponent_get_first_property)  \
    X(icalcomponent_get_dtstart)         \
    X(icalcomponent_get_recurrenceid)    \
    X(icalcomponent_get_status)          \
    X(icalcomponent_get_summary)         \
    X(icalcomponent_get_location)        \
    X(icalcomponent_get_uid)             \
    X(icalcomponent_get_timezone)        \
    X(icalcomponent_foreach_recurrence)  \
    X(icalproperty_get_first_parameter)  \
    X(icalparameter_get_tzid)            \
    X(icaltime_null_date)                \
    X(icaltime_is_null_time)             \
    X(icaltime_is_utc)                   \
    X(icaltime_adjust)                   \
    X(icaltime_compare_date_only)        \
    X(icaltime_day_of_week)              \
    X(icaltime_days_in_month)            \
    X(icaltime_from_timet_with_zone)     \
    X(icaltime_as_timet_with_zone)       \
    X(icaltimezone_get_utc_timezone)     \
    X(icaltimezone_get_builtin_timezone) \
    X(icaltimezone_get_builtin_timezone_from_tzid)

enum class sym : std::size_t { AVA_LIBICAL_SYMBOLS(AVA_LAZY_ENUM_ENTRY) };
constexpr const char* symbol_names[] = {AVA_LIBICAL_SYMBOLS(AVA_LAZY_NAME_ENTRY)};
constexpr const char* sonames[] = {"libical.so.3", "libical.so"};

constinit ava::core::lazy_library libical({.name = "libical",
                                           .key = "ical",
                                           .package = "libical3",
                                           .sonames = sonames,
                                           .symbols = symbol_names});

// icalerrno while the library is missing: what `icalerrno` (*icalerrno_return()) reads.
thread_local icalerrorenum missing_errno = ICAL_INTERNAL_ERROR;

}  // namespace

// The real `name`, typed exactly as ical.h declares it. Only after libical.load().
#define AVA_REAL(name) libical.function<decltype(&::name)>(static_cast<std::size_t>(sym::name))

extern "C" {

icalerrorenum* icalerrno_return(void) {
    if (!libical.load()) {
        missing_errno = ICAL_INTERNAL_ERROR;
        return &missing_errno;
    }
    return AVA_REAL(icalerrno_return)();
}

const char* icalerror_strerror(icalerrorenum e) {
    if (!libical.load()) return libical.error();
    return AVA_REAL(icalerror_strerror)(e);
}

icalcomponent* icalparser_parse_string(const char* str) {
    if (!libical.load()) return nullptr;
    return AVA_REAL(icalparser_parse_string)(str);
}

void icalcomponent_free(icalcomponent* component) {
    if (libical.load()) AVA_REAL(icalcomponent_free)(component);
}

icalcomponent_kind icalcomponent_isa(const icalcomponent* component) {
    if (!libical.load()) return ICAL_NO_COMPONENT;
    return AVA_REAL(icalcomponent_isa)(component);
}

icalcomponent* icalcomponent_get_parent(icalcomponent* component) {
    if (!libical.load()) return nullptr;
    return AVA_REAL(icalcomponent_get_parent)(component);
}

icalcomponent* icalcomponent_get_first_component(icalcomponent* component,
                                                 icalcomponent_kind kind) {
    if (!libical.load()) return nullptr;
    return AVA_REAL(icalcomponent_get_first_component)(component, kind);
}

icalcomponent* icalcomponent_get_next_component(icalcomponent* component, icalcomponent_kind kind) {
    if (!libical.load()) return nullptr;
    return AVA_REAL(icalcomponent_get_next_component)(component, kind);
}

icalproperty* icalcomponent_get_first_property(icalcomponent* component, icalproperty_kind kind) {
    if (!libical.load()) return nullptr;
    return AVA_REAL(icalcomponent_get_first_property)(component, kind);
}

struct icaltimetype icalcomponent_get_dtstart(icalcomponent* comp) {
    if (!libical.load()) return icaltimetype{};
    return AVA_REAL(icalcomponent_get_dtstart)(comp);
}

struct icaltimetype icalcomponent_get_recurrenceid(icalcomponent* comp) {
    if (!libical.load()) return icaltimetype{};
    return AVA_REAL(icalcomponent_get_recurrenceid)(comp);
}

enum icalproperty_status icalcomponent_get_status(icalcomponent* comp) {
    if (!libical.load()) return ICAL_STATUS_NONE;
    return AVA_REAL(icalcomponent_get_status)(comp);
}

const char* icalcomponent_get_summary(icalcomponent* comp) {
    if (!libical.load()) return nullptr;
    return AVA_REAL(icalcomponent_get_summary)(comp);
}

const char* icalcomponent_get_location(icalcomponent* comp) {
    if (!libical.load()) return nullptr;
    return AVA_REAL(icalcomponent_get_location)(comp);
}

const char* icalcomponent_get_uid(icalcomponent* comp) {
    if (!libical.load()) return nullptr;
    return AVA_REAL(icalcomponent_get_uid)(comp);
}

icaltimezone* icalcomponent_get_timezone(icalcomponent* comp, const char* tzid) {
    if (!libical.load()) return nullptr;
    return AVA_REAL(icalcomponent_get_timezone)(comp, tzid);
}

void icalcomponent_foreach_recurrence(icalcomponent* comp, struct icaltimetype start,
                                      struct icaltimetype end,
                                      void (*callback)(icalcomponent* comp,
                                                       struct icaltime_span* span, void* data),
                                      void* callback_data) {
    if (libical.load())
        AVA_REAL(icalcomponent_foreach_recurrence)(comp, start, end, callback, callback_data);
}

icalparameter* icalproperty_get_first_parameter(icalproperty* prop, icalparameter_kind kind) {
    if (!libical.load()) return nullptr;
    return AVA_REAL(icalproperty_get_first_parameter)(prop, kind);
}

const char* icalparameter_get_tzid(const icalparameter* value) {
    if (!libical.load()) return nullptr;
    return AVA_REAL(icalparameter_get_tzid)(value);
}

struct icaltimetype icaltime_null_date(void) {
    if (!libical.load()) return icaltimetype{};
    return AVA_REAL(icaltime_null_date)();
}

int icaltime_is_null_time(const struct icaltimetype t) {
    if (!libical.load()) return 1;
    return AVA_REAL(icaltime_is_null_time)(t);
}

int icaltime_is_utc(const struct icaltimetype t) {
    if (!libical.load()) return 0;
    return AVA_REAL(icaltime_is_utc)(t);
}

void icaltime_adjust(struct icaltimetype* tt, const int days, const int hours, const int minutes,
                     const int seconds) {
    if (libical.load()) AVA_REAL(icaltime_adjust)(tt, days, hours, minutes, seconds);
}

int icaltime_compare_date_only(const struct icaltimetype a, const struct icaltimetype b) {
    if (!libical.load()) return 0;
    return AVA_REAL(icaltime_compare_date_only)(a, b);
}

int icaltime_day_of_week(const struct icaltimetype t) {
    if (!libical.load()) return 0;
    return AVA_REAL(icaltime_day_of_week)(t);
}

int icaltime_days_in_month(const int month, const int year) {
    if (!libical.load()) return 0;
    return AVA_REAL(icaltime_days_in_month)(month, year);
}

struct icaltimetype icaltime_from_timet_with_zone(const time_t tm, const int is_date,
                                                  const icaltimezone* zone) {
    if (!libical.load()) return icaltimetype{};
    return AVA_REAL(icaltime_from_timet_with_zone)(tm, is_date, zone);
}

time_t icaltime_as_timet_with_zone(const struct icaltimetype tt, const icaltimezone* zone) {
    if (!libical.load()) return 0;
    return AVA_REAL(icaltime_as_timet_with_zone)(tt, zone);
}

icaltimezone* icaltimezone_get_utc_timezone(void) {
    if (!libical.load()) return nullptr;
    return AVA_REAL(icaltimezone_get_utc_timezone)();
}

icaltimezone* icaltimezone_get_builtin_timezone(const char* location) {
    if (!libical.load()) return nullptr;
    return AVA_REAL(icaltimezone_get_builtin_timezone)(location);
}

icaltimezone* icaltimezone_get_builtin_timezone_from_tzid(const char* tzid) {
    if (!libical.load()) return nullptr;
    return AVA_REAL(icaltimezone_get_builtin_timezone_from_tzid)(tzid);
}

}  // extern "C"
