/*
 * kyso_test_p11: a PKCS#11 module for Kyso's integration tests.
 *
 * It loads SoftHSM2 (or the module named by $KYSO_SHIM_TARGET) and forwards
 * every call to it, except for a few functions whose behaviour is steered by
 * files in $KYSO_SHIM_STATE_DIR, read afresh on every call:
 *
 *   flags        words "count_low", "final_try", "locked" (separated by
 *                whitespace or commas): C_GetTokenInfo ORs the matching
 *                CKF_USER_PIN_* bits into the token flags; with "locked",
 *                C_Login fails with CKR_PIN_LOCKED and is not forwarded.
 *   removed      if this file exists the token is "pulled out":
 *                C_GetSlotList(tokenPresent=TRUE) lists no slots,
 *                C_GetSlotInfo clears CKF_TOKEN_PRESENT,
 *                C_GetTokenInfo and C_OpenSession fail with
 *                CKR_TOKEN_NOT_PRESENT, and C_Login, C_FindObjectsInit,
 *                C_SignInit, C_Sign, C_SignUpdate, C_SignFinal fail with
 *                CKR_DEVICE_REMOVED.
 *
 * and which it writes:
 *
 *   login_calls  one line per C_Login call (appended before anything else
 *                happens): "user_type=<n> pin=<escaped pin>"
 *   sign_calls   one line per C_Sign call: "data_len=<n>"
 *
 * Without $KYSO_SHIM_STATE_DIR the module is a plain pass-through.
 * Only C_GetFunctionList is exported (no C_GetInterface), so callers see the
 * PKCS#11 2.40 interface of SoftHSM.
 *
 * Build: cc -shared -fPIC -fvisibility=hidden -I/usr/include/p11-kit-1 \
 *           -o libkyso_test_p11.so kyso_test_p11.c -ldl -lpthread
 */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define EXPORT __attribute__((visibility("default")))
#define DEFAULT_TARGET "/usr/lib/softhsm/libsofthsm2.so"

static CK_FUNCTION_LIST_PTR target;   /* the wrapped module's own list */
static CK_FUNCTION_LIST shim_list;    /* copy of it with our overrides */
static CK_RV load_rv = CKR_GENERAL_ERROR;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

/* ---------- state files ---------- */

static int state_path(const char *name, char *buf, size_t len)
{
    const char *dir = getenv("KYSO_SHIM_STATE_DIR");
    if (dir == NULL || dir[0] == '\0')
        return 0;
    int n = snprintf(buf, len, "%s/%s", dir, name);
    return n > 0 && (size_t)n < len;
}

static int state_file_exists(const char *name)
{
    char path[4096];
    return state_path(name, path, sizeof path) && access(path, F_OK) == 0;
}

#define SHIM_COUNT_LOW 1u
#define SHIM_FINAL_TRY 2u
#define SHIM_LOCKED 4u

static unsigned read_flag_words(void)
{
    char path[4096];
    char text[1024];
    unsigned words = 0;
    if (!state_path("flags", path, sizeof path))
        return 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *save = NULL;
    for (char *w = strtok_r(text, " \t\r\n,", &save); w != NULL;
         w = strtok_r(NULL, " \t\r\n,", &save)) {
        if (strcmp(w, "count_low") == 0)
            words |= SHIM_COUNT_LOW;
        else if (strcmp(w, "final_try") == 0)
            words |= SHIM_FINAL_TRY;
        else if (strcmp(w, "locked") == 0)
            words |= SHIM_LOCKED;
        else
            fprintf(stderr, "kyso_test_p11: unknown word in flags file: %s\n", w);
    }
    return words;
}

static CK_FLAGS token_flags_from_words(unsigned words)
{
    CK_FLAGS flags = 0;
    if (words & SHIM_COUNT_LOW)
        flags |= CKF_USER_PIN_COUNT_LOW;
    if (words & SHIM_FINAL_TRY)
        flags |= CKF_USER_PIN_FINAL_TRY;
    if (words & SHIM_LOCKED)
        flags |= CKF_USER_PIN_LOCKED;
    return flags;
}

/* Appends one whole line with a single write(2) on an O_APPEND descriptor,
 * so lines from concurrent callers never interleave. */
static void append_line(const char *name, const char *line)
{
    char path[4096];
    if (!state_path(name, path, sizeof path))
        return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "kyso_test_p11: cannot open %s: %s\n", path, strerror(errno));
        return;
    }
    size_t len = strlen(line);
    if (write(fd, line, len) != (ssize_t)len)
        fprintf(stderr, "kyso_test_p11: short write to %s\n", path);
    close(fd);
}

/* Printable ASCII stays as is (except backslash); other bytes become \xNN. */
static void escape_pin(const CK_UTF8CHAR *pin, CK_ULONG len, char *out, size_t out_len)
{
    size_t o = 0;
    if (pin == NULL) {
        snprintf(out, out_len, "<null>");
        return;
    }
    for (CK_ULONG i = 0; i < len && o + 5 < out_len; i++) {
        unsigned char c = pin[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, out_len - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

/* ---------- overrides ---------- */

static CK_RV shim_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    if (token_present && state_file_exists("removed")) {
        if (count == NULL)
            return CKR_ARGUMENTS_BAD;
        *count = 0;
        return CKR_OK;
    }
    return target->C_GetSlotList(token_present, list, count);
}

static CK_RV shim_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    CK_RV rv = target->C_GetSlotInfo(slot, info);
    if (rv == CKR_OK && state_file_exists("removed"))
        info->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
    return rv;
}

static CK_RV shim_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    if (state_file_exists("removed"))
        return CKR_TOKEN_NOT_PRESENT;
    CK_RV rv = target->C_GetTokenInfo(slot, info);
    if (rv == CKR_OK)
        info->flags |= token_flags_from_words(read_flag_words());
    return rv;
}

static CK_RV shim_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app,
                              CK_NOTIFY notify, CK_SESSION_HANDLE_PTR session)
{
    if (state_file_exists("removed"))
        return CKR_TOKEN_NOT_PRESENT;
    return target->C_OpenSession(slot, flags, app, notify, session);
}

static CK_RV shim_Login(CK_SESSION_HANDLE session, CK_USER_TYPE user_type,
                        CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    char escaped[1100];
    char line[1200];
    escape_pin(pin, pin_len, escaped, sizeof escaped);
    snprintf(line, sizeof line, "user_type=%lu pin=%s\n", (unsigned long)user_type, escaped);
    append_line("login_calls", line);

    if (state_file_exists("removed"))
        return CKR_DEVICE_REMOVED;
    if (read_flag_words() & SHIM_LOCKED)
        return CKR_PIN_LOCKED;
    return target->C_Login(session, user_type, pin, pin_len);
}

static CK_RV shim_FindObjectsInit(CK_SESSION_HANDLE session, CK_ATTRIBUTE_PTR templ, CK_ULONG count)
{
    if (state_file_exists("removed"))
        return CKR_DEVICE_REMOVED;
    return target->C_FindObjectsInit(session, templ, count);
}

static CK_RV shim_SignInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    if (state_file_exists("removed"))
        return CKR_DEVICE_REMOVED;
    return target->C_SignInit(session, mech, key);
}

static CK_RV shim_Sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len,
                       CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    char line[64];
    snprintf(line, sizeof line, "data_len=%lu\n", (unsigned long)data_len);
    append_line("sign_calls", line);
    if (state_file_exists("removed"))
        return CKR_DEVICE_REMOVED;
    return target->C_Sign(session, data, data_len, sig, sig_len);
}

static CK_RV shim_SignUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len)
{
    if (state_file_exists("removed"))
        return CKR_DEVICE_REMOVED;
    return target->C_SignUpdate(session, part, part_len);
}

static CK_RV shim_SignFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    if (state_file_exists("removed"))
        return CKR_DEVICE_REMOVED;
    return target->C_SignFinal(session, sig, sig_len);
}

/* ---------- loading ---------- */

static void load_target(void)
{
    const char *path = getenv("KYSO_SHIM_TARGET");
    if (path == NULL || path[0] == '\0')
        path = DEFAULT_TARGET;
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "kyso_test_p11: dlopen(%s) failed: %s\n", path, dlerror());
        return;
    }
    CK_C_GetFunctionList get_list = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
    if (get_list == NULL) {
        fprintf(stderr, "kyso_test_p11: %s has no C_GetFunctionList\n", path);
        return;
    }
    CK_RV rv = get_list(&target);
    if (rv != CKR_OK || target == NULL) {
        fprintf(stderr, "kyso_test_p11: C_GetFunctionList of %s failed: 0x%lx\n", path,
                (unsigned long)rv);
        load_rv = rv == CKR_OK ? CKR_GENERAL_ERROR : rv;
        return;
    }
    shim_list = *target;
    shim_list.C_GetFunctionList = C_GetFunctionList;
    shim_list.C_GetSlotList = shim_GetSlotList;
    shim_list.C_GetSlotInfo = shim_GetSlotInfo;
    shim_list.C_GetTokenInfo = shim_GetTokenInfo;
    shim_list.C_OpenSession = shim_OpenSession;
    shim_list.C_Login = shim_Login;
    shim_list.C_FindObjectsInit = shim_FindObjectsInit;
    shim_list.C_SignInit = shim_SignInit;
    shim_list.C_Sign = shim_Sign;
    shim_list.C_SignUpdate = shim_SignUpdate;
    shim_list.C_SignFinal = shim_SignFinal;
    load_rv = CKR_OK;
}

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    if (list == NULL)
        return CKR_ARGUMENTS_BAD;
    pthread_once(&load_once, load_target);
    if (load_rv != CKR_OK)
        return load_rv;
    *list = &shim_list;
    return CKR_OK;
}
