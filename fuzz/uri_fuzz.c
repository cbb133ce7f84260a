
/*
 * libFuzzer target for the path parser and the default pinId pattern.
 */


#include <stdint.h>
#include <string.h>

#include "ngx_http_tfa_resend_check.h"
#include "fuzz_assert.h"


static ngx_http_tfa_resend_pattern_t  *pattern;


static int
is_hex32(const unsigned char *s, size_t len)
{
    size_t  i;

    if (len != 32) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')
              || (s[i] >= 'A' && s[i] <= 'F')))
        {
            return 0;
        }
    }

    return 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                   rc;
    char                  err[256];
    size_t                pin_len;
    const unsigned char  *pin;

    if (pattern == NULL) {
        pattern = ngx_http_tfa_resend_pattern_compile(
                      (const unsigned char *) NGX_HTTP_TFA_RESEND_PIN_PATTERN,
                      sizeof(NGX_HTTP_TFA_RESEND_PIN_PATTERN) - 1,
                      err, sizeof(err));
        fuzz_assert(pattern != NULL);
    }

    pin = NULL;
    pin_len = 0;

    rc = ngx_http_tfa_resend_parse_uri(data, size, &pin, &pin_len);

    if (rc) {
        fuzz_assert(pin == data + 11);
        fuzz_assert(pin_len + 24 == size);
        fuzz_assert(memchr(pin, '/', pin_len) == NULL);
        fuzz_assert(memcmp(data, "/2fa/", 5) == 0);
        fuzz_assert(memcmp(data + size - 13, "/resend/voice", 13) == 0);

        rc = ngx_http_tfa_resend_pattern_match(pattern, pin, pin_len);
        fuzz_assert(rc == is_hex32(pin, pin_len));

    } else {
        fuzz_assert(pin == NULL && pin_len == 0);
    }

    rc = ngx_http_tfa_resend_pattern_match(pattern, data, size);
    fuzz_assert(rc == is_hex32(data, size));

    return 0;
}
