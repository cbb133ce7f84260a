
/*
 * libFuzzer target for the request body validator: any bytes, including
 * deep nesting, huge strings, invalid UTF-8 and NUL bytes.
 */


#include <stdint.h>
#include <string.h>
#include <jansson.h>

#include "ngx_http_tfa_resend_check.h"
#include "fuzz_assert.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int           rc;
    char          reason[128];
    json_t       *root, *v;
    json_error_t  error;

    reason[0] = '\0';

    rc = ngx_http_tfa_resend_check_body(data, size, reason, sizeof(reason));
    fuzz_assert(rc == 0 || rc == -1);

    if (rc == -1) {
        fuzz_assert(reason[0] != '\0');
        return 0;
    }

    if (size == 0) {
        return 0;
    }

    /* an accepted body is an object with well-typed known keys */

    root = json_loadb((const char *) data, size, 0, &error);
    fuzz_assert(json_is_object(root));

    v = json_object_get(root, "trackDelivery");
    fuzz_assert(v == NULL || json_is_boolean(v));

    v = json_object_get(root, "placeholders");
    fuzz_assert(v == NULL || json_is_object(v));

    json_decref(root);

    return 0;
}
