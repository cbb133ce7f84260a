# The Redis store of the resend limiter, what it does when Redis answers:
# the same exact sliding window per pinId, kept in Redis and so shared by
# several nginx servers; the store's parameters and their [emerg]s; the
# keys in Redis; refund, dry run and the variables; batching.
#
# A real redis-server (Debian's) is started by this file on a free loopback
# port before the tests and stopped after them (t/TfaResend.pm).  The mock
# Infobip API (port 1980, t/TfaResend.pm) writes one line per resend it
# received to logs/mock.log, which GET /mock-log reads back.
#
# Blocks without --- config continue the previous block on the same running
# nginx: that is how the sequences are written.  The first block of each
# such chain says which blocks go on with it.  Each block that starts nginx
# uses its own zones and pinIds, so the file also passes with
# TEST_NGINX_USE_HUP=1.
#
# A second gateway nginx (port 1982) with the same zone as the tested one
# runs beside it, for exactness across servers.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;
use File::Temp qw(tempdir);
use Time::HiRes ();

master_on();
workers(2);
worker_connections(256);
no_shuffle();


our $Dir = tempdir(CLEANUP => 1);
our $RedisPort = free_port();

redis_start($RedisPort);

our $GoodPass = secret_file($Dir, 'good.pass', "Good-Pass-7f3a\n");


# ---- start-up -----------------------------------------------------------

# the second gateway: another nginx server with the same zone, on port 1982
gateway_start("$Dir/gw2", 1982, 'fleet',
              "tfa_resend_limit_zone zone=fleet:1m rate=3/1m redis_timeout=5s\n"
              . "    store=redis://127.0.0.1:$::RedisPort;");


# the mock Infobip API: X-Mock-Status: 500 makes it fail
our $Mock = mock_infobip(1980);


# ---- configuration: nginx -t ---------------------------------------------

my $z = 'tfa_resend_limit_zone zone=z:1m rate=3/10m';

my @bad = (
    [ "$z store=http://127.0.0.1:6379;",
      qr/invalid store "store=http:\/\/127.0.0.1:6379": use store=redis:\/\/HOST:PORT\[\/DB\] or store=shm/ ],
    [ "$z store=redis://127.0.0.1:6379 redis_ssl_verify=off;",
      qr/invalid parameter "redis_ssl_verify=off": only with store=rediss:\/\// ],
    [ "$z store=redis://;",
      qr/invalid store "store=redis:\/\/": no host/ ],
    [ "$z store=redis://127.0.0.1:99999;",
      qr/invalid store "store=redis:\/\/127.0.0.1:99999": invalid port/ ],
    [ "$z store=redis://127.0.0.1:6379/two;",
      qr/invalid store "store=redis:\/\/127.0.0.1:6379\/two": the database is a number/ ],
    [ "$z store=redis://127.0.0.1:6379/;",
      qr/the database is a number/ ],
    [ "$z store=redis://user:secret\@127.0.0.1:6379;",
      qr/invalid store "store=redis:\/\/user:secret\@127.0.0.1:6379": no user or password in the URL, use redis_password_file=/ ],
    [ "$z store=redis://127.0.0.1 store=redis://127.0.0.2;",
      qr/duplicate parameter "store=redis:\/\/127.0.0.2"/ ],
    [ "$z redis_timeout=100ms;",
      qr/invalid parameter "redis_timeout=100ms": only with store=redis:\/\/HOST:PORT/ ],
    [ "$z store=shm on_store_error=reject;",
      qr/invalid parameter "on_store_error=reject": only with store=redis:\/\/HOST:PORT/ ],
    [ "$z store=redis://127.0.0.1 redis_timeout=0;",
      qr/invalid "redis_timeout=0": a time from 1ms to 60s, as in redis_timeout=100ms/ ],
    [ "$z store=redis://127.0.0.1 redis_timeout=soon;",
      qr/invalid "redis_timeout=soon": a time from 1ms to 60s/ ],
    [ "$z store=redis://127.0.0.1 redis_timeout=2m;",
      qr/invalid "redis_timeout=2m": a time from 1ms to 60s/ ],
    [ "$z store=redis://127.0.0.1 on_store_error=ignore;",
      qr/invalid "on_store_error=ignore": use on_store_error=reject, local or allow/ ],
);

for my $t (@bad) {
    my ($conf, $re) = @$t;
    my ($rc, $out) = nginx_t($conf);
    isnt($rc, 0, "nginx -t fails: $conf");
    like($out, qr/\[emerg\] .*$re/, "a clear [emerg]: $conf") or diag($out);
    unlike($out, qr/Line-One|Line-Two/, "no password in the output: $conf");
}

{
    my ($rc, $out) = nginx_t(qq{
        tfa_resend_limit_zone zone=a:1m rate=3/10m store=shm;
        tfa_resend_limit_zone zone=b:1m rate=3/10m
            store=redis://127.0.0.1:$RedisPort/2 redis_timeout=250ms
            redis_password_file=$GoodPass on_store_error=reject;
        tfa_resend_limit_zone zone=c:1m rate=1/1d store=redis://[::1]:6379
            on_store_error=allow;
        tfa_resend_limit_zone zone=d:1m rate=64/30d store=redis://localhost
            on_store_error=local;
        tfa_resend_limit zone=b;
    });
    is($rc, 0, 'every store parameter is accepted') or diag($out);
    unlike($out, qr/Good-Pass/, 'nginx -t never shows the password');
}


run_tests();

__DATA__

=== TEST 1: at most N, counted in Redis: X-RateLimit-Remaining counts down
A chain on one nginx: this block starts it; TEST 2 to 4 (no --- config) go on with it.
--- http_config eval
"tfa_resend_limit_zone zone=r1:1m rate=3/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort;\n"
. "$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=r1;
        proxy_pass http://127.0.0.1:1980;
    }

    location = /mock-log {
        default_type text/plain;
        alias logs/mock.log;
    }
--- request eval
[
"POST /2fa/2/pin/81000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/81000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/81000000000000000000000000000001/resend/voice",
]
--- response_headers eval
[
"X-RateLimit-Limit: 3\nX-RateLimit-Remaining: 2\n!Retry-After",
"X-RateLimit-Limit: 3\nX-RateLimit-Remaining: 1\n!Retry-After",
"X-RateLimit-Limit: 3\nX-RateLimit-Remaining: 0\n!Retry-After",
]
--- response_body eval
[
'{"pinId":"81000000000000000000000000000001","to":"41793026727","callStatus":"PROCESSING"}',
'{"pinId":"81000000000000000000000000000001","to":"41793026727","callStatus":"PROCESSING"}',
'{"pinId":"81000000000000000000000000000001","to":"41793026727","callStatus":"PROCESSING"}',
]



=== TEST 2: the N+1th: 429, the canonical body, Retry-After from Redis's clock, the log line
--- request
POST /2fa/2/pin/81000000000000000000000000000001/resend/voice
--- error_code: 429
--- response_headers_like
X-RateLimit-Limit: 3
X-RateLimit-Remaining: 0
Retry-After: (?:59|60)
--- response_body_like: ^\{"pinId":"81000000000000000000000000000001","to":null,"callStatus":"BAD_REQUEST","requestError":\{"serviceException":\{"messageId":"TOO_MANY_REQUESTS","text":"Too many resends of this PIN: at most 3 in 1m\. Try again in (?:59|60) seconds\."\}\}\}$
--- error_log eval
qr/\[error\] .*limiting resends of pinId "81000000000000000000000000000001" by zone "r1": 3 in the last 60000 ms, retry after \d+ ms/



=== TEST 3: the counts are one sorted set per pinId, "tfa:ZONE:PINID", expiring with the window; the upstream got N
--- init
my $key = 'tfa:r1:81000000000000000000000000000001';
Test::More::is_deeply(::redis($::RedisPort, 'KEYS', 'tfa:r1:*'), [$key],
                      'TEST 3: one key, namespaced by the zone');
Test::More::is(::redis($::RedisPort, 'TYPE', $key), 'zset',
               'TEST 3: a sorted set');
Test::More::is(::redis($::RedisPort, 'ZCARD', $key), 3,
               'TEST 3: three admissions in it');
my $ttl = ::redis($::RedisPort, 'PTTL', $key);
Test::More::ok($ttl > 50000 && $ttl <= 60000,
               "TEST 3: it expires within the window ($ttl ms)");
my $m = ::redis($::RedisPort, 'ZRANGE', $key, 0, -1, 'WITHSCORES');
Test::More::like($m->[0], qr/^(\d{13})-[0-9a-f]{16}$/,
                 'TEST 3: members are "time-nonce"');
Test::More::is($m->[1], ($m->[0] =~ /^(\d+)/)[0],
               "TEST 3: scored by Redis's time in ms");
my $now = ::redis($::RedisPort, 'TIME');
Test::More::ok(abs($m->[1] - ($now->[0] * 1000 + int($now->[1] / 1000))) < 30000,
               "TEST 3: Redis's time");
--- request
GET /mock-log
--- response_body
81000000000000000000000000000001 200
81000000000000000000000000000001 200
81000000000000000000000000000001 200



=== TEST 4: a resend refused before the limiter (wrong method, bad body) says the limit, not what is left (that is in Redis), and is not counted
--- request eval
[
"GET /2fa/2/pin/81000000000000000000000000000002/resend/voice",
"POST /2fa/2/pin/81000000000000000000000000000002/resend/voice
[1, 2]",
"POST /2fa/2/pin/81000000000000000000000000000002/resend/voice",
]
--- more_headers
Content-Type: application/json
--- error_code eval
[405, 400, 200]
--- response_headers eval
[
"X-RateLimit-Limit: 3\n!X-RateLimit-Remaining",
"X-RateLimit-Limit: 3\n!X-RateLimit-Remaining",
"X-RateLimit-Limit: 3\nX-RateLimit-Remaining: 2",
]



=== TEST 5: sliding window 2/2s through Redis, t=0: admitted
A chain on one nginx: this block starts it; TEST 6 to 8 (no --- config) go on with it.
--- http_config eval
"tfa_resend_limit_zone zone=sw:1m rate=2/2s redis_timeout=5s store=redis://127.0.0.1:$::RedisPort;\n"
. "$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=sw;
        proxy_pass http://127.0.0.1:1980;
    }
--- init
$::T0 = Time::HiRes::time();
--- request
POST /2fa/2/pin/83000000000000000000000000000001/resend/voice
--- response_headers
X-RateLimit-Remaining: 1



=== TEST 6: sliding window, t=1s: admitted, the last one for now; then rejected until the first admission leaves the window
--- init
::sleep_until($::T0 + 1);
--- request eval
[
"POST /2fa/2/pin/83000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/83000000000000000000000000000001/resend/voice",
]
--- error_code eval
[200, 429]
--- response_headers eval
[
"X-RateLimit-Remaining: 0\n!Retry-After",
"X-RateLimit-Remaining: 0\nRetry-After: 1",
]



=== TEST 7: sliding window, t=2.3s: the first admission has left the window, the second has not: one is admitted, then Retry-After until the second leaves
--- init
::sleep_until($::T0 + 2.3);
--- request eval
[
"POST /2fa/2/pin/83000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/83000000000000000000000000000001/resend/voice",
]
--- error_code eval
[200, 429]
--- response_headers eval
[
"X-RateLimit-Remaining: 0",
"Retry-After: 1",
]



=== TEST 8: sliding window: the admission that left the window is gone from Redis too
--- init
Test::More::is(::redis($::RedisPort, 'ZCARD',
                       'tfa:sw:83000000000000000000000000000001'), 2,
               'TEST 8: two admissions kept, the old one trimmed');
--- request
POST /2fa/2/pin/83000000000000000000000000000002/resend/voice
--- response_headers
X-RateLimit-Remaining: 1



=== TEST 9: two nginx servers sharing one Redis: exactly N of many concurrent resends are admitted
Eighty connections, every other one to this server (1981, 2 workers) and to
the second gateway (1982, 2 workers), written back to back.
--- http_config eval
"tfa_resend_limit_zone zone=fleet:1m rate=3/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort;\n"
. "$::Mock" . <<'_EOC_';
    server {
        listen 127.0.0.1:1981 reuseport;

        location /2fa/ {
            tfa_resend on;
            tfa_resend_credentials basic "user:pass";
            tfa_resend_limit zone=fleet;
            proxy_pass http://127.0.0.1:1980;
        }
    }
_EOC_
--- config
    location = /mock-log {
        default_type text/plain;
        alias logs/mock.log;
    }
--- init
my $pin = '84000000000000000000000000000001';
Test::More::is(::burst([1981, 1982], "/2fa/2/pin/$pin/resend/voice", 80),
               '200 x3, 429 x77',
               'TEST 9: 3 of 80 concurrent resends admitted by two servers');
my $re = qr/limiting resends of pinId "$pin" by zone "fleet"/;
my $here = ::count_lines(Test::Nginx::Util::server_root() . '/logs/error.log', $re);
my $there = ::count_lines("$::Dir/gw2/logs/error.log", $re);
Test::More::is($here + $there, 77, 'TEST 9: 77 rejections logged in all');
Test::More::ok($here > 0 && $there > 0,
               "TEST 9: both servers rejected some ($here, $there)");
--- request
GET /mock-log
--- response_body
84000000000000000000000000000001 200
84000000000000000000000000000001 200
84000000000000000000000000000001 200



=== TEST 10: refund: the upstream's 500 takes the admission back from Redis
A chain on one nginx: this block starts it; TEST 11 (no --- config) goes on with it.
--- http_config eval
"tfa_resend_limit_zone zone=r5:1m rate=1/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort;\n"
. "$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=r5;
        tfa_resend_limit_refund on;
        tfa_resend_pass_header X-Mock-Status;
        proxy_pass http://127.0.0.1:1980;
    }
--- more_headers
X-Mock-Status: 500
--- request
POST /2fa/2/pin/85000000000000000000000000000001/resend/voice
--- error_code: 500
--- response_headers
X-RateLimit-Limit: 1
X-RateLimit-Remaining: 0
--- error_log eval
qr/\[info\] .*tfa_resend_limit refunded the resend of pinId "85000000000000000000000000000001" in zone "r5": the upstream's status was 500/



=== TEST 11: refund: the pinId's quota is whole again, in Redis
--- init
Time::HiRes::sleep(0.2);
Test::More::is(::redis($::RedisPort, 'EXISTS',
                       'tfa:r5:85000000000000000000000000000001'), 0,
               'TEST 11: the refunded admission is gone from Redis');
--- request eval
[
"POST /2fa/2/pin/85000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/85000000000000000000000000000001/resend/voice",
]
--- error_code eval
[200, 429]



=== TEST 12: dry run and the variables work the same with Redis
A chain on one nginx: this block starts it; TEST 13 (no --- config) goes on with it.
--- http_config eval
"tfa_resend_limit_zone zone=r7:1m rate=1/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort;\n"
. "$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=r7;
        tfa_resend_limit_dry_run on;
        add_header X-Limit "$tfa_resend_limit_status $tfa_resend_limit_remaining" always;
        proxy_pass http://127.0.0.1:1980;
    }

    location = /mock-log {
        default_type text/plain;
        alias logs/mock.log;
    }
--- request eval
[
"POST /2fa/2/pin/87000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/87000000000000000000000000000001/resend/voice",
]
--- error_code eval
[200, 200]
--- response_headers eval
[
"X-Limit: PASSED 0\n!Retry-After",
"X-Limit: REJECTED_DRY_RUN 0\n!Retry-After",
]



=== TEST 13: dry run: the rejection that was not made is logged, both resends reached the upstream
--- request
GET /mock-log
--- response_body
87000000000000000000000000000001 200
87000000000000000000000000000001 200
--- error_log eval
qr/limiting resends, dry run, of pinId "87000000000000000000000000000001" by zone "r7"/



=== TEST 14: resends of several pinIds at once share script calls; each pinId still gets exactly N
Forty connections to one server (2 workers), eight for each of five
pinIds, written back to back: what a worker reads in one pass of its event
loop goes to Redis in one script call.
--- http_config eval
"tfa_resend_limit_zone zone=batch:1m rate=3/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort;\n"
. "$::Mock" . <<'_EOC_';
    server {
        listen 127.0.0.1:1981 reuseport;

        location /2fa/ {
            tfa_resend on;
            tfa_resend_credentials basic "user:pass";
            tfa_resend_limit zone=batch;
            proxy_pass http://127.0.0.1:1980;
        }
    }
_EOC_
--- config
    location = /mock-log {
        default_type text/plain;
        alias logs/mock.log;
    }
--- init
# how many resends a pass reads depends on how fast the client writes
# against how fast the worker reads (a sanitizer's build reads slowly):
# three bursts, of five pinIds of their own each, and one at least batched
my @calls;
for my $round (0 .. 2) {
    my @pins = map { sprintf '8D0000000000000000000000000000%02d', $_ }
               5 * $round + 1 .. 5 * $round + 5;
    ::redis($::RedisPort, 'CONFIG', 'RESETSTAT');
    Test::More::is(::burst([1981], [map { "/2fa/2/pin/$_/resend/voice" } @pins],
                           40),
                   '200 x15, 429 x25', "TEST 14: 3 of 8 resends of each pinId (burst $round)");
    my $stats = ::redis($::RedisPort, 'INFO', 'commandstats');
    my ($zcard) = $stats =~ /^cmdstat_zcard:calls=(\d+)/m;
    my $scripts = 0;
    $scripts += $1 while $stats =~ /^cmdstat_eval(?:sha)?:calls=(\d+)/mg;
    Test::More::is($zcard, 40, "TEST 14: each resend asked of Redis (burst $round)");
    push @calls, $scripts;
    for my $pin (@pins) {
        Test::More::is(::redis($::RedisPort, 'ZCARD', "tfa:batch:$pin"), 3,
                       "TEST 14: 3 admissions of $pin in Redis");
    }
}
my ($fewest) = sort { $a <=> $b } @calls;
Test::More::cmp_ok($fewest, '<', 40,
                   "TEST 14: 40 resends in fewer script calls, in one burst at least (@calls)");
--- request
GET /mock-log
--- response_body_like: \A(?:8D0000000000000000000000000000\d\d 200\n){45}\z



=== TEST 15: one pinId, one count in Redis: any case of a pinId is one key, in upper case (tfa_resend_pin_case upper, the default); with off, another
--- http_config eval
"tfa_resend_limit_zone zone=r15:1m rate=3/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort;\n"
. "$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=r15;
        proxy_pass http://127.0.0.1:1980;
    }

    location /raw/ {
        rewrite ^/raw(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_pin_case off;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=r15;
        proxy_pass http://127.0.0.1:1980;
    }
--- request eval
[
"POST /2fa/2/pin/8FABCDEF000000000000000000000001/resend/voice",
"POST /2fa/2/pin/8fabcdef000000000000000000000001/resend/voice",
"POST /2fa/2/pin/8FaBcDeF000000000000000000000001/resend/voice",
"POST /2fa/2/pin/8fabcdef000000000000000000000001/resend/voice",
"POST /raw/2fa/2/pin/8fabcdef000000000000000000000001/resend/voice",
]
--- error_code eval
[200, 200, 200, 429, 200]
--- response_headers eval
[
"X-RateLimit-Remaining: 2",
"X-RateLimit-Remaining: 1",
"X-RateLimit-Remaining: 0",
"X-RateLimit-Remaining: 0",
"X-RateLimit-Remaining: 2",
]
--- response_body_like eval
[("8FABCDEF000000000000000000000001") x 4,
 "8fabcdef000000000000000000000001"]



=== TEST 16: one pinId, one count: the keys in Redis
--- http_config eval
"tfa_resend_limit_zone zone=r15:1m rate=3/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort;\n"
. "$::Mock"
--- config
    location = /t {
        return 204;
    }
--- init
Test::More::is(::redis($::RedisPort, 'ZCARD', 'tfa:r15:8FABCDEF000000000000000000000001'), 3,
               'TEST 16: three admissions under the upper-case key');
Test::More::is(::redis($::RedisPort, 'ZCARD', 'tfa:r15:8fabcdef000000000000000000000001'), 1,
               'TEST 16: one under the key of tfa_resend_pin_case off');
Test::More::is(::redis($::RedisPort, 'EXISTS', 'tfa:r15:8FaBcDeF000000000000000000000001'), 0,
               'TEST 16: none under the mixed case');
--- request
GET /t
--- error_code: 204



=== TEST 17: refund on: upstream 401, 403, 404 and 429 are taken back from Redis, and a pinId left with no admission has no key
A chain on one nginx: this block starts it; TEST 18 (no --- config) goes on with it.
--- http_config eval
"tfa_resend_limit_zone zone=r17:1m rate=1/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort;\n"
. "$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_pass_header X-Mock-Status;
        tfa_resend_limit zone=r17;
        tfa_resend_limit_refund on;
        proxy_pass http://127.0.0.1:1980;
    }
--- request eval
[("POST /2fa/2/pin/8F170000000000000000000000000001/resend/voice") x 4]
--- more_headers eval
["X-Mock-Status: 401", "X-Mock-Status: 403", "X-Mock-Status: 404",
 "X-Mock-Status: 429"]
--- error_code eval
[401, 403, 404, 429]
--- response_headers eval
[("X-RateLimit-Limit: 1\nX-RateLimit-Remaining: 0") x 4]



=== TEST 18: refund on: nothing kept in Redis for what was taken back; the quota is whole
--- init
Time::HiRes::sleep(0.2);
Test::More::is(::redis($::RedisPort, 'EXISTS',
                       'tfa:r17:8F170000000000000000000000000001'), 0,
               'TEST 18: no key for the refunded pinId');
--- request eval
[("POST /2fa/2/pin/8F170000000000000000000000000001/resend/voice") x 2]
--- error_code eval
[200, 429]



=== TEST 19: a flood of unknown pinIds with refund on leaves nothing behind, in Redis or in the zone's local window (64k): 700 answered 404, then a new pinId is admitted
--- log_level: warn
--- http_config eval
"tfa_resend_limit_zone zone=r19:64k rate=3/10m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort;\n"
. "$::Mock"
--- config
    keepalive_requests 100000;

    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_pass_header X-Mock-Status;
        tfa_resend_limit zone=r19;
        tfa_resend_limit_refund on;
        proxy_pass http://127.0.0.1:1980;
    }
--- init
Test::More::is(::flood($ServerPort, '', 700, 404), '404 x700',
               'TEST 19: every unknown pinId reached the upstream, none got 503');
Time::HiRes::sleep(0.3);
Test::More::is_deeply(::redis($::RedisPort, 'KEYS', 'tfa:r19:*'), [],
                      'TEST 19: no key left in Redis');
--- request eval
[
"POST /2fa/2/pin/8F190000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/8F190000000000000000000000000001/resend/voice",
]
--- error_code eval
[200, 200]
--- response_headers eval
[
"X-RateLimit-Remaining: 2",
"X-RateLimit-Remaining: 1",
]
--- no_error_log
[error]
--- timeout: 60
