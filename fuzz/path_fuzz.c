
/*
 * libFuzzer target for the resend path matcher and the pinId folding.
 *
 * Every input is classified a second time here by a definition written
 * differently from check.c's: the exact shape by splitting the path into
 * its '/'-separated segments and comparing the last six, the near miss on
 * a lower-cased copy with the runs of slashes squeezed, searched with
 * memmem().  Both must agree on the class, the prefix and the pinId.
 */


#define _GNU_SOURCE

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_tfa_resend_check.h"
#include "fuzz_assert.h"


#define SEG_IS(s, lit)                                                       \
    ((s)->len == sizeof(lit) - 1 && memcmp((s)->data, lit, (s)->len) == 0)


typedef struct {
    const uint8_t  *data;
    size_t          len;
} seg_t;


/*
 * Returns 1 (pinId non-empty) or 2 (pinId empty) when the path is a
 * prefix that is empty or starts with '/', then "/2fa/{1|2}/pin/{pinId}/
 * resend/voice"; 0 otherwise.
 */

static int
by_segments(const uint8_t *data, size_t size, size_t *prefix_len,
    size_t *pin_off, size_t *pin_len)
{
    int      rc;
    size_t   i, n;
    seg_t   *segs, *last;

    segs = malloc((size + 1) * sizeof(seg_t));
    fuzz_assert(segs != NULL);

    n = 0;
    segs[0].data = data;

    for (i = 0; i < size; i++) {
        if (data[i] == '/') {
            segs[n].len = data + i - segs[n].data;
            n++;
            segs[n].data = data + i + 1;
        }
    }

    segs[n].len = data + size - segs[n].data;
    n++;

    /* the text before the first '/' is not empty: the prefix lacks a '/' */

    rc = 0;

    if (n < 7 || segs[0].len != 0) {
        goto done;
    }

    last = &segs[n - 6];

    if (!SEG_IS(&last[0], "2fa")
        || !(SEG_IS(&last[1], "1") || SEG_IS(&last[1], "2"))
        || !SEG_IS(&last[2], "pin")
        || !SEG_IS(&last[4], "resend")
        || !SEG_IS(&last[5], "voice"))
    {
        goto done;
    }

    *prefix_len = (last[0].data - data) - 1;
    *pin_off = last[3].data - data;
    *pin_len = last[3].len;

    rc = last[3].len ? 1 : 2;

done:

    free(segs);
    return rc;
}


static int
by_squeezed_copy(const uint8_t *data, size_t size)
{
    int       found;
    size_t    i, n;
    uint8_t  *copy, c;

    copy = malloc(size + 1);
    fuzz_assert(copy != NULL);

    n = 0;

    for (i = 0; i < size; i++) {
        c = data[i];

        if (c == '/' && n && copy[n - 1] == '/') {
            continue;
        }

        if (c >= 'A' && c <= 'Z') {
            c = c - 'A' + 'a';
        }

        copy[n++] = c;
    }

    found = memmem(copy, n, "/resend/voice", 13) != NULL;

    free(copy);
    return found;
}


static void
check_fold(const uint8_t *data, size_t size,
    const ngx_http_tfa_resend_path_t *m)
{
    size_t                      i;
    uint8_t                    *path, *up, *low, *off, *end;
    const uint8_t              *pin;
    ngx_http_tfa_resend_path_t  m2;

    pin = data + m->pin_off;

    up = malloc(m->pin_len);
    low = malloc(m->pin_len);
    off = malloc(m->pin_len);
    path = malloc(size);
    fuzz_assert(up && low && off && path);

    end = ngx_http_tfa_resend_fold_pin(up, pin, m->pin_len,
                                       NGX_HTTP_TFA_RESEND_PIN_CASE_UPPER);
    fuzz_assert(end == up + m->pin_len);
    ngx_http_tfa_resend_fold_pin(low, pin, m->pin_len,
                                 NGX_HTTP_TFA_RESEND_PIN_CASE_LOWER);
    ngx_http_tfa_resend_fold_pin(off, pin, m->pin_len,
                                 NGX_HTTP_TFA_RESEND_PIN_CASE_OFF);

    fuzz_assert(memcmp(off, pin, m->pin_len) == 0);

    for (i = 0; i < m->pin_len; i++) {
        fuzz_assert(!(up[i] >= 'a' && up[i] <= 'z'));
        fuzz_assert(!(low[i] >= 'A' && low[i] <= 'Z'));

        if ((pin[i] | 0x20) >= 'a' && (pin[i] | 0x20) <= 'z') {
            fuzz_assert((up[i] | 0x20) == (pin[i] | 0x20));
            fuzz_assert(low[i] == (pin[i] | 0x20));

        } else {
            fuzz_assert(up[i] == pin[i] && low[i] == pin[i]);
        }
    }

    /* in place, the same; and a folded pinId keeps the path's class */

    memcpy(path, data, size);
    ngx_http_tfa_resend_fold_pin(path + m->pin_off, path + m->pin_off,
                                 m->pin_len,
                                 NGX_HTTP_TFA_RESEND_PIN_CASE_UPPER);
    fuzz_assert(memcmp(path + m->pin_off, up, m->pin_len) == 0);

    fuzz_assert(ngx_http_tfa_resend_match_path(path, size, &m2)
                == NGX_HTTP_TFA_RESEND_PATH_EXACT);
    fuzz_assert(memcmp(&m2, m, sizeof(m2)) == 0);

    ngx_http_tfa_resend_fold_pin(path + m->pin_off, path + m->pin_off,
                                 m->pin_len,
                                 NGX_HTTP_TFA_RESEND_PIN_CASE_LOWER);
    fuzz_assert(memcmp(path + m->pin_off, low, m->pin_len) == 0);

    free(up);
    free(low);
    free(off);
    free(path);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                          shape, rc;
    size_t                       prefix_len, pin_off, pin_len, len;
    const unsigned char         *pin;
    ngx_http_tfa_resend_path_t   m;
    ngx_http_tfa_resend_path_e   class;

    class = ngx_http_tfa_resend_match_path(data, size, &m);

    prefix_len = pin_off = pin_len = 0;
    shape = by_segments(data, size, &prefix_len, &pin_off, &pin_len);

    if (shape == 1) {
        fuzz_assert(class == NGX_HTTP_TFA_RESEND_PATH_EXACT);
        fuzz_assert(m.prefix_len == prefix_len);
        fuzz_assert(m.pin_off == pin_off && m.pin_len == pin_len);
        fuzz_assert(m.reason == NULL);
        fuzz_assert(m.pin_len > 0 && m.pin_off + m.pin_len <= size);
        fuzz_assert(memchr(data + m.pin_off, '/', m.pin_len) == NULL);
        fuzz_assert(m.prefix_len == 0 || data[0] == '/');

        check_fold(data, size, &m);

    } else if (by_squeezed_copy(data, size)) {
        fuzz_assert(class == NGX_HTTP_TFA_RESEND_PATH_NEAR_MISS);
        fuzz_assert(m.prefix_len == 0 && m.pin_off == 0 && m.pin_len == 0);
        fuzz_assert(m.reason != NULL && m.reason[0] != '\0');
        fuzz_assert((shape == 2)
                    == (strcmp(m.reason, "invalid pinId") == 0));

    } else {
        /* an empty pinId with the rest of the shape always has the words */
        fuzz_assert(shape == 0);

        fuzz_assert(class == NGX_HTTP_TFA_RESEND_PATH_OTHER);
        fuzz_assert(m.prefix_len == 0 && m.pin_off == 0 && m.pin_len == 0);
        fuzz_assert(m.reason == NULL);
    }

    /* the handler's parser of today: the shape with no prefix */

    pin = NULL;
    len = 0;
    rc = ngx_http_tfa_resend_parse_uri(data, size, &pin, &len);

    fuzz_assert(rc == (shape != 0 && prefix_len == 0));

    if (rc) {
        fuzz_assert(pin == data + pin_off && len == pin_len);
    }

    fuzz_assert(ngx_http_tfa_resend_match_path(data, size, NULL) == class);

    return 0;
}
