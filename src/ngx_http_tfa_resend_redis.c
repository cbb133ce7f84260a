
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The Redis store: the same exact sliding window per pinId as the
 * shared-memory store, kept in Redis and so shared by every nginx server
 * that uses it (a fleet behind a load balancer).
 *
 * Here: its parameters of tfa_resend_limit_zone, read when the
 * configuration is read (the addresses resolved, the password files read,
 * by the master), and the worker's exit.  Elsewhere, each in
 * ngx_http_tfa_resend_redis_*.c: the operations (store), the scripts
 * (script), on_store_error (fallback), the connection (conn), the master
 * found through Sentinels (sentinel), TLS (ssl), one link to one server
 * (link).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_conf.h"
#include "ngx_http_tfa_resend_shm.h"
#include "ngx_http_tfa_resend_redis.h"
#include "ngx_http_tfa_resend_redis_conn.h"
#include "ngx_http_tfa_resend_redis_script.h"
#include "ngx_http_tfa_resend_redis_sentinel.h"
#include "ngx_http_tfa_resend_redis_ssl.h"
#include "ngx_http_tfa_resend_redis_store.h"
#include "ngx_http_tfa_resend_redis_cluster_conf.h"


#define NGX_HTTP_TFA_RESEND_REDIS_PASSWORD_MAX  512


static ngx_int_t ngx_http_tfa_resend_redis_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_tfa_resend_redis_parse_url(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd, ngx_str_t *value);
static ngx_int_t ngx_http_tfa_resend_redis_parse_sentinels(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd, ngx_str_t *value, ngx_str_t *url);
static ngx_int_t ngx_http_tfa_resend_redis_read_password(ngx_conf_t *cf,
    ngx_str_t *value, const char *param, ngx_str_t *password);
static ngx_int_t ngx_http_tfa_resend_redis_username(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd, ngx_str_t *value);
static void ngx_http_tfa_resend_redis_pool_cleanup(void *data);


/* by their place in ngx_http_tfa_resend_redis_params[] */
#define NGX_HTTP_TFA_RESEND_REDIS_P_TIMEOUT     0
#define NGX_HTTP_TFA_RESEND_REDIS_P_PASSWORD    1
#define NGX_HTTP_TFA_RESEND_REDIS_P_ON_ERROR    2
#define NGX_HTTP_TFA_RESEND_REDIS_P_USERNAME    3
#define NGX_HTTP_TFA_RESEND_REDIS_P_SSL_VERIFY  4
#define NGX_HTTP_TFA_RESEND_REDIS_P_SSL_CA      5
#define NGX_HTTP_TFA_RESEND_REDIS_P_SSL_NAME    6
#define NGX_HTTP_TFA_RESEND_REDIS_P_SSL_CERT    7
#define NGX_HTTP_TFA_RESEND_REDIS_P_SSL_KEY     8
#define NGX_HTTP_TFA_RESEND_REDIS_P_SSL         4  /* the first of
                                                      the SSL_PARAMS */
#define NGX_HTTP_TFA_RESEND_REDIS_P_SENTINEL_PW 9
#define NGX_HTTP_TFA_RESEND_REDIS_P_N           10

/* Sentinels in one store= at the most */
#define NGX_HTTP_TFA_RESEND_REDIS_SENTINELS     16


char  *ngx_http_tfa_resend_redis_params[] = {
    "redis_timeout=",
    "redis_password_file=",
    "on_store_error=",
    "redis_username=",
    "redis_ssl_verify=",
    "redis_ssl_trusted_certificate=",
    "redis_ssl_name=",
    "redis_ssl_certificate=",
    "redis_ssl_certificate_key=",
    "redis_sentinel_password_file=",
    NULL
};


ngx_int_t
ngx_http_tfa_resend_redis_create(ngx_conf_t *cf,
    ngx_http_tfa_resend_store_t *store, ngx_str_t *url, ngx_array_t *params)
{
    ngx_int_t                     t;
    ngx_str_t                    *value, *timeout, *password, *mode, s;
    ngx_str_t                    *given[NGX_HTTP_TFA_RESEND_REDIS_P_N];
    ngx_uint_t                    i, j, m, n;
    ngx_pool_cleanup_t           *cln;
    ngx_http_tfa_resend_redis_t  *rd;

    value = params ? params->elts : NULL;
    n = params ? params->nelts : 0;

    ngx_memzero(given, sizeof(given));

    /* the limiter passes only ngx_http_tfa_resend_redis_params[] */

    for (i = 0; i < n; i++) {

        for (j = 0; ngx_http_tfa_resend_redis_params[j + 1]; j++) {
            if (ngx_http_tfa_resend_conf_param(&value[i],
                    ngx_http_tfa_resend_redis_params[j], NULL))
            {
                break;
            }
        }

        if (given[j]) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate parameter \"%V\"", &value[i]);
            return NGX_ERROR;
        }

        given[j] = &value[i];
    }

    timeout = given[NGX_HTTP_TFA_RESEND_REDIS_P_TIMEOUT];
    password = given[NGX_HTTP_TFA_RESEND_REDIS_P_PASSWORD];
    mode = given[NGX_HTTP_TFA_RESEND_REDIS_P_ON_ERROR];

    rd = ngx_pcalloc(cf->pool, sizeof(ngx_http_tfa_resend_redis_t));
    if (rd == NULL) {
        return NGX_ERROR;
    }

    rd->store = store;

    /* a key's hash tag closes only on a cluster; never a NULL to copy */
    ngx_str_set(&rd->suffix, "");

    if (ngx_http_tfa_resend_redis_parse_url(cf, rd, url) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_tfa_resend_redis_ssl(cf, rd, url,
                                      &given[NGX_HTTP_TFA_RESEND_REDIS_P_SSL])
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rd->timeout = 100;

    if (timeout) {
        (void) ngx_http_tfa_resend_conf_param(timeout, "redis_timeout=", &s);

        t = ngx_parse_time(&s, 0);

        if (t == NGX_ERROR || t < 1 || t > 60000) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\": a time from 1ms to 60s, "
                               "as in redis_timeout=100ms", timeout);
            return NGX_ERROR;
        }

        rd->timeout = (ngx_msec_t) t;
    }

    rd->on_error = NGX_HTTP_TFA_RESEND_REDIS_LOCAL;

    if (mode) {
        (void) ngx_http_tfa_resend_conf_param(mode, "on_store_error=", &s);

        for (m = 0; ngx_http_tfa_resend_redis_modes[m].len; m++) {
            if (s.len == ngx_http_tfa_resend_redis_modes[m].len
                && ngx_strncmp(s.data, ngx_http_tfa_resend_redis_modes[m].data,
                               s.len) == 0)
            {
                break;
            }
        }

        if (ngx_http_tfa_resend_redis_modes[m].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\": use on_store_error=reject, "
                               "local or allow", mode);
            return NGX_ERROR;
        }

        rd->on_error = m;
    }

    if (password
        && ngx_http_tfa_resend_redis_read_password(cf, password,
               "redis_password_file", &rd->password)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    password = given[NGX_HTTP_TFA_RESEND_REDIS_P_SENTINEL_PW];

    if (password && rd->master_name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": only with "
                           "store=redis-sentinel:// or "
                           "store=rediss-sentinel://", password);
        return NGX_ERROR;
    }

    if (password
        && ngx_http_tfa_resend_redis_read_password(cf, password,
               "redis_sentinel_password_file", &rd->sentinel_password)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_tfa_resend_redis_username(cf, rd,
            given[NGX_HTTP_TFA_RESEND_REDIS_P_USERNAME])
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_tfa_resend_redis_prepare(cf, rd) != NGX_OK) {
        return NGX_ERROR;
    }

    if (rd->cluster
        && ngx_http_tfa_resend_redis_cluster_setup(cf, rd) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the local window, in the zone's shared memory */

    rd->local.shm_zone = store->shm_zone;
    rd->local.name = store->name;
    rd->local.limit = store->limit;
    rd->local.window = store->window;

    if (ngx_http_tfa_resend_shm_create(cf, &rd->local, NULL, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    store->type = &ngx_http_tfa_resend_redis_store;
    store->data = rd;
    store->local = &rd->local;

    store->shm_zone->init = ngx_http_tfa_resend_redis_init_zone;
    store->shm_zone->data = store;

    /* each worker's connection, made when a resend first needs it */

    rd->conn.state = NGX_HTTP_TFA_RESEND_REDIS_DOWN;
    rd->conn.backoff = NGX_HTTP_TFA_RESEND_REDIS_BACKOFF_MIN;
    ngx_queue_init(&rd->conn.waiting);
    ngx_http_tfa_resend_redis_link_init(&rd->conn.master);
    ngx_http_tfa_resend_redis_link_init(&rd->conn.sentinel);
    ngx_sprintf(rd->conn.why, "is not connected yet%Z");

    /* a single-process nginx frees an old configuration after a reload */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_tfa_resend_redis_pool_cleanup;
    cln->data = rd;

    return NGX_OK;
}


static ngx_int_t
ngx_http_tfa_resend_redis_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_tfa_resend_store_t  *ostore = data;

    ngx_slab_pool_t              *shpool;
    ngx_http_tfa_resend_redis_t  *rd, *ord;
    ngx_http_tfa_resend_store_t  *store;

    if (ngx_http_tfa_resend_shm_init_zone(shm_zone, data) != NGX_OK) {
        return NGX_ERROR;
    }

    store = shm_zone->data;
    rd = store->data;

    if (ostore && ostore->type == &ngx_http_tfa_resend_redis_store) {
        ord = ostore->data;
        rd->sh = ord->sh;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    rd->sh = ngx_slab_calloc(shpool,
                             sizeof(ngx_http_tfa_resend_redis_shctx_t));
    if (rd->sh == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* redis://HOST[:PORT][/DB]: resolved now, by the master */

static ngx_int_t
ngx_http_tfa_resend_redis_parse_url(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd, ngx_str_t *value)
{
    ngx_int_t  db;
    ngx_url_t  u;

    ngx_memzero(&u, sizeof(ngx_url_t));

    if (ngx_http_tfa_resend_conf_param(value, "store=redis-sentinel://",
                                       &u.url)
        || ngx_http_tfa_resend_conf_param(value, "store=rediss-sentinel://",
                                          &u.url))
    {
        rd->tls = (value->data[sizeof("store=redis") - 1] == 's');
        return ngx_http_tfa_resend_redis_parse_sentinels(cf, rd, value,
                                                         &u.url);
    }

    if (ngx_http_tfa_resend_conf_param(value, "store=redis-cluster://",
                                       &u.url)
        || ngx_http_tfa_resend_conf_param(value, "store=rediss-cluster://",
                                          &u.url))
    {
        rd->tls = (value->data[sizeof("store=redis") - 1] == 's');
        return ngx_http_tfa_resend_redis_cluster_create(cf, rd, value,
                                                        &u.url);
    }

    rd->tls = ngx_http_tfa_resend_conf_param(value, "store=rediss://", NULL);

    (void) ngx_http_tfa_resend_conf_param(value, rd->tls ? "store=rediss://"
                                                         : "store=redis://",
                                          &u.url);
    u.default_port = 6379;
    u.uri_part = 1;

    if (ngx_strlchr(u.url.data, u.url.data + u.url.len, '@')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": no user or password in "
                           "the URL, use redis_password_file=", value);
        return NGX_ERROR;
    }

    if (u.url.len == 0 || u.url.data[0] == '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": no host", value);
        return NGX_ERROR;
    }

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": %s", value,
                           u.err ? u.err : "bad URL");
        return NGX_ERROR;
    }

    if (u.family == AF_UNIX || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": use "
                           "store=%s://HOST:PORT[/DB]", value,
                           rd->tls ? "rediss" : "redis");
        return NGX_ERROR;
    }

    if (u.uri.len) {
        db = (u.uri.len > 1) ? ngx_atoi(u.uri.data + 1, u.uri.len - 1)
                             : NGX_ERROR;

        if (db == NGX_ERROR || db > 65535) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid store \"%V\": the database is a "
                               "number, as in redis://127.0.0.1:6379/2",
                               value);
            return NGX_ERROR;
        }

        rd->db = (ngx_uint_t) db;
        rd->db_arg.data = u.uri.data + 1;
        rd->db_arg.len = u.uri.len - 1;
    }

    if (u.naddrs > 1) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "store \"%V\": \"%V\" has %ui addresses, "
                           "%V is used", value, &u.host, u.naddrs,
                           &u.addrs[0].name);
    }

    rd->addr = u.addrs[0].name;
    rd->sockaddr = u.addrs[0].sockaddr;
    rd->socklen = u.addrs[0].socklen;
    rd->host = u.host;

    return NGX_OK;
}


/*
 * redis-sentinel://HOST:PORT[,HOST:PORT...]/MASTER_NAME[/DB]: the Sentinels
 * resolved now, by the master; the Redis master is asked of them by each
 * worker when it connects
 */

static ngx_int_t
ngx_http_tfa_resend_redis_parse_sentinels(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd, ngx_str_t *value, ngx_str_t *url)
{
    u_char                             *p, *last, *comma, *slash;
    ngx_int_t                           db;
    ngx_url_t                           u;
    ngx_uint_t                          i;
    ngx_http_tfa_resend_redis_node_t   *node;

    p = url->data;
    last = url->data + url->len;

    if (ngx_strlchr(p, last, '@')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": no user or password in "
                           "the URL, use redis_password_file= and "
                           "redis_sentinel_password_file=", value);
        return NGX_ERROR;
    }

    slash = ngx_strlchr(p, last, '/');

    if (slash == NULL || slash == p || slash + 1 == last) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": use "
                           "store=%s://HOST:PORT[,HOST:PORT...]/MASTER_NAME"
                           "[/DB]", value,
                           rd->tls ? "rediss-sentinel" : "redis-sentinel");
        return NGX_ERROR;
    }

    rd->sentinels = ngx_pcalloc(cf->pool,
                                NGX_HTTP_TFA_RESEND_REDIS_SENTINELS
                                * sizeof(ngx_http_tfa_resend_redis_node_t));
    if (rd->sentinels == NULL) {
        return NGX_ERROR;
    }

    for ( ;; ) {
        comma = ngx_strlchr(p, slash, ',');
        if (comma == NULL) {
            comma = slash;
        }

        if (rd->nsentinels == NGX_HTTP_TFA_RESEND_REDIS_SENTINELS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid store \"%V\": %d Sentinels at the "
                               "most", value,
                               NGX_HTTP_TFA_RESEND_REDIS_SENTINELS);
            return NGX_ERROR;
        }

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url.data = p;
        u.url.len = comma - p;
        u.default_port = 26379;
        u.no_resolve = 0;

        if (u.url.len == 0 || ngx_parse_url(cf->pool, &u) != NGX_OK
            || u.family == AF_UNIX || u.naddrs == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid store \"%V\": a Sentinel \"%*s\": "
                               "%s", value, comma - p, p,
                               u.err ? u.err : "not HOST:PORT");
            return NGX_ERROR;
        }

        node = &rd->sentinels[rd->nsentinels++];

        node->sockaddr = u.addrs[0].sockaddr;
        node->socklen = u.addrs[0].socklen;
        node->name = u.addrs[0].name;

        /* the TLS name by default, NUL-terminated for SNI */

        if (ngx_http_tfa_resend_redis_link_name(cf->pool, &u.host,
                                                &node->host)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (comma == slash) {
            break;
        }

        p = comma + 1;
    }

    /* MASTER_NAME[/DB] */

    p = slash + 1;
    slash = ngx_strlchr(p, last, '/');

    rd->master_name.data = p;
    rd->master_name.len = (slash ? slash : last) - p;

    for (i = 0; i < rd->master_name.len; i++) {
        if (p[i] <= 0x20 || p[i] >= 0x7f) {
            break;
        }
    }

    if (rd->master_name.len == 0 || i < rd->master_name.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%V\": no master name, or one "
                           "with spaces", value);
        return NGX_ERROR;
    }

    if (slash) {
        db = (last - slash > 1) ? ngx_atoi(slash + 1, last - slash - 1)
                                : NGX_ERROR;

        if (db == NGX_ERROR || db > 65535) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid store \"%V\": the database is a "
                               "number, as in "
                               "redis-sentinel://127.0.0.1:26379/mymaster/2",
                               value);
            return NGX_ERROR;
        }

        rd->db = (ngx_uint_t) db;
        rd->db_arg.data = slash + 1;
        rd->db_arg.len = last - slash - 1;
    }

    /* each worker's connection asks them for the master */

    rd->find_master = ngx_http_tfa_resend_redis_sentinel_ask;

    /* "mymaster" until a Sentinel names it: rd->addr is the worker's */

    rd->addr.data = rd->conn.addr;
    rd->addr.len = ngx_snprintf(rd->conn.addr, sizeof(rd->conn.addr),
                                "\"%V\" (sentinel)", &rd->master_name)
                   - rd->conn.addr;

    return NGX_OK;
}


/*
 * redis_password_file=PATH: one line, read now by the master (the file can
 * be 0600 and owned by root); errors name the file, never what it holds.
 */

static ngx_int_t
ngx_http_tfa_resend_redis_read_password(ngx_conf_t *cf, ngx_str_t *value,
    const char *param, ngx_str_t *password)
{
    u_char     *buf;
    size_t      len;
    ngx_int_t   rc;
    ngx_str_t   name;

    name.data = value->data + ngx_strlen(param) + 1;
    name.len = value->len - ngx_strlen(param) - 1;

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\": no file name", value);
        return NGX_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    buf = ngx_pnalloc(cf->temp_pool,
                      NGX_HTTP_TFA_RESEND_REDIS_PASSWORD_MAX + 1);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_tfa_resend_conf_read_secret(cf, &name, param, param, buf,
             NGX_HTTP_TFA_RESEND_REDIS_PASSWORD_MAX, &len);
    if (rc != NGX_OK) {
        goto done;
    }

    rc = NGX_ERROR;

    /* one line: a trailing "\n" or "\r\n" is not the password's */

    if (len && buf[len - 1] == '\n') {
        len--;

        if (len && buf[len - 1] == '\r') {
            len--;
        }
    }

    if (len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s \"%s\" is empty", param, name.data);
        goto done;
    }

    if (ngx_strlchr(buf, buf + len, '\n') || ngx_strlchr(buf, buf + len, '\r')
        || ngx_strlchr(buf, buf + len, '\0'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s \"%s\" must hold one line", param,
                           name.data);
        goto done;
    }

    password->data = ngx_pnalloc(cf->pool, len);
    if (password->data == NULL) {
        goto done;
    }

    ngx_memcpy(password->data, buf, len);
    password->len = len;

    rc = NGX_OK;

done:

    ngx_explicit_memzero(buf, NGX_HTTP_TFA_RESEND_REDIS_PASSWORD_MAX + 1);

    return rc;
}


/*
 * redis_username=NAME: AUTH NAME PASSWORD, a Redis 6 ACL user, with the
 * password of redis_password_file; log lines name the user
 */

static ngx_int_t
ngx_http_tfa_resend_redis_username(ngx_conf_t *cf,
    ngx_http_tfa_resend_redis_t *rd, ngx_str_t *value)
{
    ngx_str_t   name;
    ngx_uint_t  i;

    if (value == NULL) {
        return NGX_OK;
    }

    (void) ngx_http_tfa_resend_conf_param(value, "redis_username=", &name);

    if (name.len == 0 || name.len > 128) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\": a user name of 1 to 128 "
                           "characters", value);
        return NGX_ERROR;
    }

    for (i = 0; i < name.len; i++) {
        if (name.data[i] <= 0x20 || name.data[i] >= 0x7f
            || name.data[i] == '"')
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\": a user name of printable "
                               "characters, without spaces or quotes",
                               value);
            return NGX_ERROR;
        }
    }

    if (rd->password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs redis_password_file=", value);
        return NGX_ERROR;
    }

    rd->username = name;

    return NGX_OK;
}


void
ngx_http_tfa_resend_redis_exit_process(ngx_http_tfa_resend_store_t *store)
{
    ngx_http_tfa_resend_redis_close(store->data);
}


static void
ngx_http_tfa_resend_redis_pool_cleanup(void *data)
{
    ngx_http_tfa_resend_redis_close(data);
}
