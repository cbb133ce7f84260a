
/*
 * A minimal TAP producer for the unit tests: "ok N - name" lines and the
 * plan printed last ("1..N"), which prove accepts.
 */


#ifndef _NGX_HTTP_TFA_RESEND_TAP_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_TAP_H_INCLUDED_


#include <stdio.h>
#include <string.h>


static int  ngx_http_tfa_resend_tap_n;
static int  ngx_http_tfa_resend_tap_failed;


static int
ngx_http_tfa_resend_tap_ok(int cond, const char *name)
{
    ngx_http_tfa_resend_tap_n++;

    printf("%sok %d - %s\n", cond ? "" : "not ", ngx_http_tfa_resend_tap_n,
           name);

    if (!cond) {
        ngx_http_tfa_resend_tap_failed++;
    }

    return cond;
}


/* compares (pointer, length) with a C string, showing both on failure */

static int
ngx_http_tfa_resend_tap_is(const char *got, size_t got_len,
    const char *expected, const char *name)
{
    int  cond;

    cond = got != NULL && expected != NULL && got_len == strlen(expected)
           && memcmp(got, expected, got_len) == 0;

    if (got == NULL && expected == NULL) {
        cond = 1;
    }

    if (!ngx_http_tfa_resend_tap_ok(cond, name)) {
        printf("#      got: %.*s\n", got ? (int) got_len : 6,
               got ? got : "(null)");
        printf("# expected: %s\n", expected ? expected : "(null)");
    }

    return cond;
}


static int
ngx_http_tfa_resend_tap_is_cstr(const char *got, const char *expected,
    const char *name)
{
    return ngx_http_tfa_resend_tap_is(got, got ? strlen(got) : 0, expected,
                                      name);
}


static int
ngx_http_tfa_resend_tap_done(void)
{
    printf("1..%d\n", ngx_http_tfa_resend_tap_n);

    return ngx_http_tfa_resend_tap_failed ? 1 : 0;
}


#define ok(cond, name)  ngx_http_tfa_resend_tap_ok((cond) != 0, name)
#define is(got, expected, name)                                              \
    ngx_http_tfa_resend_tap_is_cstr(got, expected, name)
#define is_n(got, got_len, expected, name)                                   \
    ngx_http_tfa_resend_tap_is((const char *) (got), got_len, expected, name)
#define done_testing()  ngx_http_tfa_resend_tap_done()


#endif /* _NGX_HTTP_TFA_RESEND_TAP_H_INCLUDED_ */
