
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * Helpers for reading the configuration, shared by the directives.
 * Secret files are read when the configuration is read, by the master
 * process: such a file can be 0600 and owned by root, and a reload picks
 * up a rotated one.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_conf.h"


ngx_uint_t
ngx_http_tfa_resend_conf_param(ngx_str_t *arg, const char *key,
    ngx_str_t *value)
{
    size_t  len;

    len = ngx_strlen(key);

    if (arg->len < len || ngx_strncmp(arg->data, key, len) != 0) {
        return 0;
    }

    if (value) {
        value->data = arg->data + len;
        value->len = arg->len - len;
    }

    return 1;
}


ngx_int_t
ngx_http_tfa_resend_conf_read_secret(ngx_conf_t *cf, ngx_str_t *name,
    const char *directive, const char *what, u_char *buf, size_t max,
    size_t *len)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_int_t        rc;
    ngx_uint_t       mode;
    ngx_file_info_t  fi;

    *len = 0;

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%s: " ngx_open_file_n " \"%s\" failed",
                           directive, name->data);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%s: " ngx_fd_info_n " \"%s\" failed",
                           directive, name->data);
        goto done;
    }

    if (!ngx_is_file(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s \"%s\" is not a regular file",
                           what, name->data);
        goto done;
    }

    mode = ngx_file_access(&fi);

    if (mode & (S_IRGRP|S_IROTH)) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "%s \"%s\" is readable by group or others "
                           "(mode 0%ui%ui%ui): restrict it to its owner",
                           what, name->data, (ngx_uint_t) (mode >> 6) & 7,
                           (ngx_uint_t) (mode >> 3) & 7,
                           (ngx_uint_t) mode & 7);
    }

    /* read one byte more than allowed to tell "too large" */

    while (*len <= max) {
        n = ngx_read_fd(fd, buf + *len, max + 1 - *len);

        if (n == -1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               "%s: " ngx_read_fd_n " \"%s\" failed",
                               directive, name->data);
            goto done;
        }

        if (n == 0) {
            break;
        }

        *len += n;
    }

    if (*len > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s \"%s\" is too large (more than %uz bytes)",
                           what, name->data, max);
        goto done;
    }

    rc = NGX_OK;

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%s\" failed", name->data);
    }

    return rc;
}
