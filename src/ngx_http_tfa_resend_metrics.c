
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The counters in shared memory.
 *
 * One zone of the module's own, "tfa_resend:metrics" (a name no
 * tfa_resend_limit_zone can take: those stop at the ':'), holds one set of
 * counters that every worker adds to with ngx_atomic_fetch_add(): no lock
 * on the request path.  Its size follows from the number of limit zones,
 * rounded up to whole pages, so nothing is sized by hand.  It is set up
 * only when a tfa_resend_metrics page reads it: without one, counting
 * costs a test of a pointer.
 *
 * A reload keeps the counts.  With the same size (the usual case: the
 * pages hold room for more zones than are configured) nginx hands the same
 * memory to the new configuration, which the old workers still count
 * into while they finish.  The per-zone counters are found again by the
 * zone's name, so a zone renamed, added or moved in the configuration does
 * not take over another's counts.  With a new size (zones added past the
 * page's room) the new memory starts with a copy of the old, so only what
 * the old workers count after the copy is lost.  A restart starts at zero.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_metrics.h"


typedef struct {
    ngx_http_tfa_resend_metrics_zone_counters_t  counters;
    ngx_int_t                           slot;     /* in the configuration
                                                     that set it up last, or
                                                     -1: for a process that
                                                     attaches to the zone */
} ngx_http_tfa_resend_metrics_shzone_t;


typedef struct {
    ngx_http_tfa_resend_metrics_counters_t  counters;
    ngx_uint_t                          zones;    /* room in zone[] */
    ngx_http_tfa_resend_metrics_shzone_t  zone[1];
} ngx_http_tfa_resend_metrics_shctx_t;


struct ngx_http_tfa_resend_metrics_conf_s {
    ngx_shm_zone_t                     *shm_zone;
    ngx_http_tfa_resend_metrics_shctx_t  *sh;     /* once the zone is set up */
    ngx_array_t                         zones;    /* ..._metrics_zone_t */
    ngx_uint_t                          page;     /* a tfa_resend_metrics */
};

typedef struct ngx_http_tfa_resend_metrics_conf_s
    ngx_http_tfa_resend_metrics_conf_t;


static ngx_http_tfa_resend_metrics_conf_t *ngx_http_tfa_resend_metrics_get(
    void);
static void ngx_http_tfa_resend_metrics_observe(ngx_atomic_t *buckets,
    ngx_atomic_t *sum, const ngx_http_tfa_resend_metrics_bound_t *bounds,
    ngx_uint_t n, ngx_uint_t usec);
static ngx_http_tfa_resend_metrics_zone_counters_t *
    ngx_http_tfa_resend_metrics_zone(ngx_int_t slot);
static ngx_http_tfa_resend_metrics_conf_t *
    ngx_http_tfa_resend_metrics_conf(ngx_conf_t *cf);
static size_t ngx_http_tfa_resend_metrics_size(ngx_uint_t zones,
    ngx_uint_t *room);
static ngx_int_t ngx_http_tfa_resend_metrics_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static ngx_int_t ngx_http_tfa_resend_metrics_assign(
    ngx_http_tfa_resend_metrics_conf_t *conf,
    ngx_http_tfa_resend_metrics_conf_t *oconf, ngx_log_t *log);
static void ngx_http_tfa_resend_metrics_copy(
    ngx_http_tfa_resend_metrics_conf_t *conf, ngx_shm_zone_t *shm_zone);
static void ngx_http_tfa_resend_metrics_copy_atomics(ngx_atomic_t *dst,
    ngx_atomic_t *src, size_t size);


static ngx_str_t  ngx_http_tfa_resend_metrics_zone_name =
    ngx_string("tfa_resend:metrics");


ngx_http_tfa_resend_metrics_bound_t
    ngx_http_tfa_resend_metrics_upstream_bounds[] = {
    { 5000, "0.005" },
    { 10000, "0.01" },
    { 25000, "0.025" },
    { 50000, "0.05" },
    { 100000, "0.1" },
    { 250000, "0.25" },
    { 500000, "0.5" },
    { 1000000, "1" },
    { 2500000, "2.5" },
    { 5000000, "5" },
    { 10000000, "10" }
};


ngx_http_tfa_resend_metrics_bound_t
    ngx_http_tfa_resend_metrics_store_bounds[] = {
    { 500, "0.0005" },
    { 1000, "0.001" },
    { 2500, "0.0025" },
    { 5000, "0.005" },
    { 10000, "0.01" },
    { 25000, "0.025" },
    { 50000, "0.05" },
    { 100000, "0.1" },
    { 250000, "0.25" }
};


/* request time: counting */

/*
 * The counters of the configuration this process serves: its cycle's, so
 * an old worker finishing after a reload counts where its zones are known.
 */

static ngx_http_tfa_resend_metrics_conf_t *
ngx_http_tfa_resend_metrics_get(void)
{
    ngx_http_tfa_resend_main_conf_t     *mcf;
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    /* a worker that exits frees its cycle under a cycle without any */

    if (ngx_cycle->conf_ctx == NULL) {
        return NULL;
    }

    mcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                              ngx_http_tfa_resend_module);
    if (mcf == NULL) {
        return NULL;
    }

    conf = mcf->metrics;

    if (conf == NULL || conf->sh == NULL) {
        return NULL;
    }

    return conf;
}


uint64_t
ngx_http_tfa_resend_metrics_clock(void)
{
#if (NGX_HAVE_CLOCK_MONOTONIC)
    struct timespec  ts;
#else
    struct timeval   tv;
#endif

    if (ngx_http_tfa_resend_metrics_get() == NULL) {
        return 0;
    }

    /* nginx's cached time has milliseconds; the buckets start at 0.5ms */

#if (NGX_HAVE_CLOCK_MONOTONIC)
    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
#else
    ngx_gettimeofday(&tv);

    return (uint64_t) tv.tv_sec * 1000000 + tv.tv_usec;
#endif
}


void
ngx_http_tfa_resend_metrics_request(
    ngx_http_tfa_resend_metrics_outcome_e outcome)
{
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    conf = ngx_http_tfa_resend_metrics_get();

    if (conf == NULL
        || (ngx_uint_t) outcome >= NGX_HTTP_TFA_RESEND_METRICS_OUTCOMES)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(&conf->sh->counters.requests[outcome], 1);
}


void
ngx_http_tfa_resend_metrics_call_status(const char *call_status)
{
    int                                  i;
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    conf = ngx_http_tfa_resend_metrics_get();

    if (conf == NULL) {
        return;
    }

    /* the normalizer's own list: a value it does not have is not counted */

    i = ngx_http_tfa_resend_call_status_index(call_status);

    if (i < 0) {
        return;
    }

    (void) ngx_atomic_fetch_add(&conf->sh->counters.call_status[i], 1);
}


void
ngx_http_tfa_resend_metrics_upstream_status(ngx_uint_t status)
{
    ngx_uint_t                           code;
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    conf = ngx_http_tfa_resend_metrics_get();

    if (conf == NULL) {
        return;
    }

    switch (status / 100) {

    case 2:
        code = 0;
        break;

    case 4:
        code = 1;
        break;

    case 5:
        code = 2;
        break;

    default:
        return;
    }

    (void) ngx_atomic_fetch_add(&conf->sh->counters.upstream[code], 1);
}


void
ngx_http_tfa_resend_metrics_upstream_time(ngx_uint_t usec)
{
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    conf = ngx_http_tfa_resend_metrics_get();

    if (conf == NULL) {
        return;
    }

    ngx_http_tfa_resend_metrics_observe(conf->sh->counters.upstream_seconds,
                                   &conf->sh->counters.upstream_usec,
                                   ngx_http_tfa_resend_metrics_upstream_bounds,
                                   NGX_HTTP_TFA_RESEND_METRICS_UP_BOUNDS,
                                   usec);
}


void
ngx_http_tfa_resend_metrics_decision(ngx_int_t slot,
    ngx_http_tfa_resend_metrics_decision_e decision)
{
    ngx_http_tfa_resend_metrics_zone_counters_t  *zc;

    zc = ngx_http_tfa_resend_metrics_zone(slot);

    if (zc == NULL
        || (ngx_uint_t) decision >= NGX_HTTP_TFA_RESEND_METRICS_DECISIONS)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(&zc->decisions[decision], 1);
}


void
ngx_http_tfa_resend_metrics_refund(ngx_int_t slot)
{
    ngx_http_tfa_resend_metrics_zone_counters_t  *zc;

    zc = ngx_http_tfa_resend_metrics_zone(slot);

    if (zc == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&zc->refunds, 1);
}


void
ngx_http_tfa_resend_metrics_store_error(ngx_int_t slot,
    ngx_http_tfa_resend_metrics_reason_e reason)
{
    ngx_http_tfa_resend_metrics_zone_counters_t  *zc;

    zc = ngx_http_tfa_resend_metrics_zone(slot);

    if (zc == NULL
        || (ngx_uint_t) reason >= NGX_HTTP_TFA_RESEND_METRICS_REASONS)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(&zc->store_errors[reason], 1);
}


void
ngx_http_tfa_resend_metrics_store_time(ngx_int_t slot, ngx_uint_t usec)
{
    ngx_http_tfa_resend_metrics_zone_counters_t  *zc;

    zc = ngx_http_tfa_resend_metrics_zone(slot);

    if (zc == NULL) {
        return;
    }

    ngx_http_tfa_resend_metrics_observe(zc->store_seconds, &zc->store_usec,
                                      ngx_http_tfa_resend_metrics_store_bounds,
                                      NGX_HTTP_TFA_RESEND_METRICS_STORE_BOUNDS,
                                      usec);
}


static ngx_http_tfa_resend_metrics_zone_counters_t *
ngx_http_tfa_resend_metrics_zone(ngx_int_t slot)
{
    ngx_http_tfa_resend_metrics_conf_t  *conf;
    ngx_http_tfa_resend_metrics_zone_t  *s;

    conf = ngx_http_tfa_resend_metrics_get();

    if (conf == NULL || slot < 0 || (ngx_uint_t) slot >= conf->zones.nelts) {
        return NULL;
    }

    s = conf->zones.elts;

    return s[slot].counters;
}


/* one bucket's count (the first whose bound is not below) and the sum */

static void
ngx_http_tfa_resend_metrics_observe(ngx_atomic_t *buckets, ngx_atomic_t *sum,
    const ngx_http_tfa_resend_metrics_bound_t *bounds, ngx_uint_t n,
    ngx_uint_t usec)
{
    ngx_uint_t  i;

    for (i = 0; i < n && usec > bounds[i].usec; i++) { /* void */ }

    (void) ngx_atomic_fetch_add(&buckets[i], 1);
    (void) ngx_atomic_fetch_add(sum, usec);
}


/* request time: the page's reading */

ngx_http_tfa_resend_metrics_counters_t *
ngx_http_tfa_resend_metrics_read(ngx_http_request_t *r,
    ngx_http_tfa_resend_metrics_zone_t **zones, ngx_uint_t *n)
{
    ngx_http_tfa_resend_main_conf_t     *mcf;
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_tfa_resend_module);
    conf = mcf->metrics;

    if (conf == NULL || conf->sh == NULL) {
        return NULL;
    }

    *zones = conf->zones.elts;
    *n = conf->zones.nelts;

    return &conf->sh->counters;
}


/* configuration time */

static ngx_http_tfa_resend_metrics_conf_t *
ngx_http_tfa_resend_metrics_conf(ngx_conf_t *cf)
{
    ngx_http_tfa_resend_main_conf_t     *mcf;
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tfa_resend_module);

    if (mcf->metrics) {
        return mcf->metrics;
    }

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tfa_resend_metrics_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&conf->zones, cf->pool, 4,
                       sizeof(ngx_http_tfa_resend_metrics_zone_t))
        != NGX_OK)
    {
        return NULL;
    }

    mcf->metrics = conf;

    return conf;
}


ngx_int_t
ngx_http_tfa_resend_metrics_add_zone(ngx_conf_t *cf,
    ngx_http_tfa_resend_store_t *store)
{
    ngx_http_tfa_resend_metrics_conf_t  *conf;
    ngx_http_tfa_resend_metrics_zone_t  *z;

    conf = ngx_http_tfa_resend_metrics_conf(cf);
    if (conf == NULL) {
        return NGX_ERROR;
    }

    z = ngx_array_push(&conf->zones);
    if (z == NULL) {
        return NGX_ERROR;
    }

    z->name = store->name;
    z->store = store;
    z->counters = NULL;
    z->index = 0;

    return conf->zones.nelts - 1;
}


ngx_int_t
ngx_http_tfa_resend_metrics_want(ngx_conf_t *cf)
{
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    conf = ngx_http_tfa_resend_metrics_conf(cf);
    if (conf == NULL) {
        return NGX_ERROR;
    }

    conf->page = 1;

    return NGX_OK;
}


/*
 * The zone's size: the counters and the zones' rounded up to whole pages
 * (what is left over is room for more zones), one page for the slab pool
 * and its page table, and one to spare.  room: how many zones fit.
 */

static size_t
ngx_http_tfa_resend_metrics_size(ngx_uint_t zones, ngx_uint_t *room)
{
    size_t  size, pages;

    size = offsetof(ngx_http_tfa_resend_metrics_shctx_t, zone)
           + zones * sizeof(ngx_http_tfa_resend_metrics_shzone_t);

    size = ngx_align(size, ngx_pagesize);
    pages = size / ngx_pagesize;

    *room = (size - offsetof(ngx_http_tfa_resend_metrics_shctx_t, zone))
            / sizeof(ngx_http_tfa_resend_metrics_shzone_t);

    return size
           + ngx_align(sizeof(ngx_slab_pool_t)
                       + (ngx_pagesize_shift - 3)
                         * (sizeof(ngx_slab_page_t) + sizeof(ngx_slab_stat_t))
                       + (pages + 2) * sizeof(ngx_slab_page_t),
                       ngx_pagesize)
           + ngx_pagesize;
}


ngx_int_t
ngx_http_tfa_resend_metrics_init(ngx_conf_t *cf)
{
    size_t                               size;
    ngx_uint_t                           room;
    ngx_shm_zone_t                      *shm_zone;
    ngx_http_tfa_resend_main_conf_t     *mcf;
    ngx_http_tfa_resend_metrics_conf_t  *conf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tfa_resend_module);

    /* counters that no page shows would only take memory and time */

    conf = mcf->metrics;

    if (conf == NULL || !conf->page) {
        return NGX_OK;
    }

    size = ngx_http_tfa_resend_metrics_size(conf->zones.nelts, &room);

    /*
     * A tag of its own: the zones tagged with the module are the limit
     * zones, whose data is a store
     */

    shm_zone = ngx_shared_memory_add(cf,
                                     &ngx_http_tfa_resend_metrics_zone_name,
                                     size,
                                     &ngx_http_tfa_resend_metrics_zone_name);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_tfa_resend_metrics_init_zone;
    shm_zone->data = conf;

    conf->shm_zone = shm_zone;

    return NGX_OK;
}


/* init */

static ngx_int_t
ngx_http_tfa_resend_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_tfa_resend_metrics_conf_t  *oconf = data;

    ngx_uint_t                            i, room;
    ngx_slab_pool_t                      *shpool;
    ngx_http_tfa_resend_metrics_conf_t   *conf;
    ngx_http_tfa_resend_metrics_zone_t   *s;
    ngx_http_tfa_resend_metrics_shctx_t  *sh;

    conf = shm_zone->data;

    if (oconf) {
        /* the same memory: the old workers still count into it */

        conf->sh = oconf->sh;

        if (ngx_http_tfa_resend_metrics_assign(conf, oconf, shm_zone->shm.log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                      "tfa_resend_metrics: the counts go on in the same "
                      "memory (room for %ui limit zones)", conf->sh->zones);

        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        /* a process that attaches again: as the master set it up */

        conf->sh = shpool->data;
        s = conf->zones.elts;

        for (i = 0; i < conf->sh->zones; i++) {
            if (conf->sh->zone[i].slot >= 0
                && (ngx_uint_t) conf->sh->zone[i].slot < conf->zones.nelts)
            {
                s[conf->sh->zone[i].slot].index = i;
                s[conf->sh->zone[i].slot].counters =
                                                &conf->sh->zone[i].counters;
            }
        }

        return NGX_OK;
    }

    (void) ngx_http_tfa_resend_metrics_size(conf->zones.nelts, &room);

    sh = ngx_slab_calloc(shpool,
                         offsetof(ngx_http_tfa_resend_metrics_shctx_t, zone)
                         + room * sizeof(ngx_http_tfa_resend_metrics_shzone_t));
    if (sh == NULL) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "tfa_resend_metrics: no room for the counters of %ui "
                      "zones in %uz bytes", room, shm_zone->shm.size);
        return NGX_ERROR;
    }

    sh->zones = room;

    for (i = 0; i < room; i++) {
        sh->zone[i].slot = -1;
    }

    shpool->data = sh;
    conf->sh = sh;

    if (ngx_http_tfa_resend_metrics_assign(conf, NULL, shm_zone->shm.log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_tfa_resend_metrics_copy(conf, shm_zone);

    return NGX_OK;
}


/*
 * Gives each zone of the configuration its counters in sh->zone[]: those
 * of the zone of the same name in oconf, the configuration before (the
 * memory is the same), else free ones, zeroed.  Free are first those no
 * zone of oconf had, then those of the zones oconf had and conf has not:
 * a reload that fails later leaves the running configuration its counts
 * unless the zones are renamed past the room.
 */

static ngx_int_t
ngx_http_tfa_resend_metrics_assign(ngx_http_tfa_resend_metrics_conf_t *conf,
    ngx_http_tfa_resend_metrics_conf_t *oconf, ngx_log_t *log)
{
    u_char                               *taken;
    ngx_int_t                             found;
    ngx_uint_t                            i, j, k, pass;
    ngx_http_tfa_resend_metrics_zone_t   *s, *os;
    ngx_http_tfa_resend_metrics_shctx_t  *sh;

    sh = conf->sh;
    s = conf->zones.elts;

    if (conf->zones.nelts > sh->zones) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "tfa_resend_metrics: %ui zones, room for %ui",
                      conf->zones.nelts, sh->zones);
        return NGX_ERROR;
    }

    /* 0: free; 1: had by a zone of oconf; 2: given */

    taken = ngx_calloc(sh->zones, log);
    if (taken == NULL) {
        return NGX_ERROR;
    }

    if (oconf) {
        os = oconf->zones.elts;

        for (j = 0; j < oconf->zones.nelts; j++) {
            taken[os[j].index] = 1;
        }

        for (i = 0; i < conf->zones.nelts; i++) {
            found = -1;

            for (j = 0; j < oconf->zones.nelts; j++) {
                if (os[j].name.len == s[i].name.len
                    && ngx_strncmp(os[j].name.data, s[i].name.data,
                                   s[i].name.len)
                       == 0)
                {
                    found = j;
                    break;
                }
            }

            if (found >= 0) {
                s[i].index = os[found].index;
                taken[s[i].index] = 2;

            } else {
                s[i].index = sh->zones;    /* to give */
            }
        }

    } else {
        for (i = 0; i < conf->zones.nelts; i++) {
            s[i].index = sh->zones;
        }
    }

    for (i = 0; i < conf->zones.nelts; i++) {

        if (s[i].index < sh->zones) {
            continue;
        }

        for (pass = 0; pass < 2; pass++) {
            for (k = 0; k < sh->zones; k++) {
                if (taken[k] == pass) {
                    goto found;
                }
            }
        }

        /* not reached: room >= zones */

        ngx_free(taken);
        return NGX_ERROR;

    found:

        taken[k] = 2;
        s[i].index = k;

        ngx_memzero(&sh->zone[k].counters,
                    sizeof(ngx_http_tfa_resend_metrics_zone_counters_t));
    }

    ngx_free(taken);

    /* for a process that attaches to the zone again (Windows) */

    for (k = 0; k < sh->zones; k++) {
        sh->zone[k].slot = -1;
    }

    for (i = 0; i < conf->zones.nelts; i++) {
        sh->zone[s[i].index].slot = i;
        s[i].counters = &sh->zone[s[i].index].counters;
    }

    return NGX_OK;
}


/*
 * New memory on a reload (the zone's size changed): the counts of the
 * running configuration's zone go on from where they are.  Its memory is
 * there until the new configuration is set up (ngx_cycle is the running
 * one until then); what its workers count after this copy is lost.
 */

static void
ngx_http_tfa_resend_metrics_copy(ngx_http_tfa_resend_metrics_conf_t *conf,
    ngx_shm_zone_t *shm_zone)
{
    ngx_uint_t                            i, j;
    ngx_list_part_t                      *part;
    ngx_shm_zone_t                       *zone;
    ngx_http_tfa_resend_metrics_conf_t   *oconf;
    ngx_http_tfa_resend_metrics_zone_t   *s, *os;
    ngx_http_tfa_resend_metrics_shctx_t  *osh;

    oconf = NULL;

    part = (ngx_list_part_t *) &ngx_cycle->shared_memory.part;
    zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag == shm_zone->tag
            && zone[i].init == ngx_http_tfa_resend_metrics_init_zone
            && zone[i].shm.name.len == shm_zone->shm.name.len
            && ngx_strncmp(zone[i].shm.name.data, shm_zone->shm.name.data,
                           shm_zone->shm.name.len)
               == 0)
        {
            oconf = zone[i].data;
            break;
        }
    }

    if (oconf == NULL || oconf->sh == NULL) {
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                  "tfa_resend_metrics: the counts go on in new memory of "
                  "%uz bytes (room for %ui limit zones), copied from the old",
                  shm_zone->shm.size, conf->sh->zones);

    osh = oconf->sh;

    ngx_http_tfa_resend_metrics_copy_atomics(
        (ngx_atomic_t *) &conf->sh->counters, (ngx_atomic_t *) &osh->counters,
        sizeof(ngx_http_tfa_resend_metrics_counters_t));

    s = conf->zones.elts;
    os = oconf->zones.elts;

    for (i = 0; i < conf->zones.nelts; i++) {
        for (j = 0; j < oconf->zones.nelts; j++) {

            if (os[j].name.len == s[i].name.len
                && ngx_strncmp(os[j].name.data, s[i].name.data,
                               s[i].name.len)
                   == 0)
            {
                ngx_http_tfa_resend_metrics_copy_atomics(
                    (ngx_atomic_t *) &conf->sh->zone[s[i].index].counters,
                    (ngx_atomic_t *) &osh->zone[os[j].index].counters,
                    sizeof(ngx_http_tfa_resend_metrics_zone_counters_t));
                break;
            }
        }
    }
}


/* one word at a time: the old workers may be adding to src meanwhile */

static void
ngx_http_tfa_resend_metrics_copy_atomics(ngx_atomic_t *dst, ngx_atomic_t *src,
    size_t size)
{
    ngx_uint_t  i;

    for (i = 0; i < size / sizeof(ngx_atomic_t); i++) {
        dst[i] = src[i];
    }
}
