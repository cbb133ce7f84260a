
/*
 * The bytes of a JSON string and UTF-8, for the loops that run over every
 * byte of an answer: the scanner reads strings with them, the writer writes
 * them.  Both are static inline: exported by one file, the other would
 * reach them through the PLT and the GOT from its per-string loop, which
 * costs a normalization about 2% more instructions.  Plain C, no nginx
 * headers.
 */


#ifndef _NGX_HTTP_TFA_RESEND_UTF8_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_UTF8_H_INCLUDED_


#include <stddef.h>


/*
 * 1 for the bytes that stand for themselves inside a JSON string, both
 * ways: printable ASCII and DEL but '"' and '\'.  Controls need an escape;
 * bytes from 0x80 are UTF-8, checked apart.  A table: the scanner and the
 * writer run over every byte of the answer with it.
 */

static inline int
ngx_http_tfa_resend_json_plain(unsigned char c)
{
    static const unsigned char  plain[256] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    };

    return plain[c];
}


/*
 * Decodes one UTF-8 character as jansson validates it (no overlong forms,
 * no surrogates, nothing above U+10FFFF).  Returns its length, or 0 for an
 * invalid byte.
 */

static inline size_t
ngx_http_tfa_resend_utf8_char(const unsigned char *p, size_t len,
    unsigned *cp)
{
    size_t         n, i;
    unsigned       c;
    unsigned char  lo, hi;

    c = p[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        c &= 0x1f;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = (c == 0xe0) ? 0xa0 : 0x80;
        hi = (c == 0xed) ? 0x9f : 0xbf;
        c &= 0x0f;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = (c == 0xf0) ? 0x90 : 0x80;
        hi = (c == 0xf4) ? 0x8f : 0xbf;
        c &= 0x07;

    } else {
        return 0;
    }

    if (len < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    c = (c << 6) | (p[1] & 0x3f);

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }

        c = (c << 6) | (p[i] & 0x3f);
    }

    *cp = c;
    return n;
}


#endif /* _NGX_HTTP_TFA_RESEND_UTF8_H_INCLUDED_ */
