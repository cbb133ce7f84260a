
/*
 * libFuzzer target for the credentials parser, both kinds.
 */


#include <stdint.h>
#include <string.h>

#include "ngx_http_tfa_resend_check.h"
#include "fuzz_assert.h"


static void
check(const uint8_t *data, size_t size, int basic)
{
    int     rc;
    char    reason[128];
    size_t  i, n;

    n = (size_t) -1;
    reason[0] = '\0';

    rc = ngx_http_tfa_resend_parse_secret(data, size, basic, &n, reason,
                                          sizeof(reason));

    if (rc != 0) {
        fuzz_assert(rc == -1 && reason[0] != '\0');
        fuzz_assert(n == (size_t) -1);
        return;
    }

    /* the secret, then at most one "\n" or "\r\n" */

    fuzz_assert(n > 0 && n <= size);
    fuzz_assert(size - n <= 2);
    fuzz_assert(size == n || memcmp(data + n, "\r\n", size - n) == 0
                || (size - n == 1 && data[n] == '\n'));

    for (i = 0; i < n; i++) {
        fuzz_assert(data[i] >= 0x20 && data[i] != 0x7f);
        fuzz_assert(basic || data[i] != ' ');
    }

    if (basic) {
        fuzz_assert(data[0] != ':' && memchr(data, ':', n) != NULL);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size, 0);
    check(data, size, 1);

    return 0;
}
