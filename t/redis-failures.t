# The Redis store of the resend limiter when Redis fails: Redis stopped
# mid-run under each on_store_error (and the once-a-second log line), Redis
# restarted, Redis slower than redis_timeout (answers within the timeout,
# late admissions kept or taken back), a client going away while its
# resend waits for Redis.
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

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;
use IO::Socket::INET;
use Time::HiRes ();

master_on();
workers(2);
worker_connections(256);
no_shuffle();


our $RedisPort = free_port();

redis_start($RedisPort);


# the mock Infobip API: X-Mock-Status: 500 makes it fail
our $Mock = mock_infobip(1980);


run_tests();

__DATA__

=== TEST 1: Redis stopped mid-run: before, one admission in each on_store_error zone
A chain on one nginx: this block starts it; TEST 2 to 5 (no --- config) go on with it.
--- http_config eval
"tfa_resend_limit_zone zone=sr:1m rate=2/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=sl:1m rate=2/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort on_store_error=local;\n"
. "tfa_resend_limit_zone zone=sa:1m rate=2/1m redis_timeout=5s store=redis://127.0.0.1:$::RedisPort on_store_error=allow;\n"
. "$::Mock"
--- config
    tfa_resend on;
    tfa_resend_credentials basic "user:pass";

    location /reject/ {
        rewrite ^/reject(/.*)$ $1 break;
        tfa_resend_limit zone=sr;
        proxy_pass http://127.0.0.1:1980;
    }

    location /local/ {
        rewrite ^/local(/.*)$ $1 break;
        tfa_resend_limit zone=sl;
        proxy_pass http://127.0.0.1:1980;
    }

    location /allow/ {
        rewrite ^/allow(/.*)$ $1 break;
        tfa_resend_limit zone=sa;
        proxy_pass http://127.0.0.1:1980;
    }
--- request eval
[
"POST /reject/2fa/2/pin/88000000000000000000000000000001/resend/voice",
"POST /local/2fa/2/pin/88000000000000000000000000000002/resend/voice",
"POST /allow/2fa/2/pin/88000000000000000000000000000003/resend/voice",
]
--- error_code eval
[200, 200, 200]
--- response_headers eval
[
"X-RateLimit-Remaining: 1",
"X-RateLimit-Remaining: 1",
"X-RateLimit-Remaining: 1",
]



=== TEST 2: Redis stopped: reject answers 503 with the canonical body; local goes on from this server's own window (one admission left, then 429); allow lets everything through
--- init
::redis_stop($::RedisPort);
--- request eval
[
"POST /reject/2fa/2/pin/88000000000000000000000000000001/resend/voice",
"POST /local/2fa/2/pin/88000000000000000000000000000002/resend/voice",
"POST /local/2fa/2/pin/88000000000000000000000000000002/resend/voice",
"POST /allow/2fa/2/pin/88000000000000000000000000000003/resend/voice",
"POST /allow/2fa/2/pin/88000000000000000000000000000003/resend/voice",
"POST /allow/2fa/2/pin/88000000000000000000000000000003/resend/voice",
]
--- error_code eval
[503, 200, 429, 200, 200, 200]
--- response_body_like eval
[
'^\{"pinId":"88000000000000000000000000000001","to":null,"callStatus":"ERROR","requestError":\{"serviceException":\{"messageId":"GENERAL_ERROR","text":"The resend limiter is not available\. Try again later\."\}\}\}$',
'"callStatus":"PROCESSING"',
'"messageId":"TOO_MANY_REQUESTS"',
'"callStatus":"PROCESSING"',
'"callStatus":"PROCESSING"',
'"callStatus":"PROCESSING"',
]



=== TEST 3: Redis stopped: the store error is logged once a second at most, per zone, and no request waits for Redis
--- init
my $log = Test::Nginx::Util::server_root() . '/logs/error.log';
my $re = qr/tfa_resend_limit_zone "sa": redis at/;
my $before = ::count_lines($log, $re);
my $t0 = Time::HiRes::time();
my ($slowest, $i) = (0, 0);
while (Time::HiRes::time() - $t0 < 2.5) {
    my ($status, $secs) = ::resend($ServerPort,
        sprintf '/allow/2fa/2/pin/8A%030d/resend/voice', ++$i);
    die "TEST 3: status $status" unless $status == 200;
    $slowest = $secs if $secs > $slowest;
    Time::HiRes::sleep(0.01);
}
my $elapsed = Time::HiRes::time() - $t0;
my $logged = ::count_lines($log, $re) - $before;
Test::More::ok($logged >= 2 && $logged <= int($elapsed) + 2,
               sprintf "TEST 3: %d lines for %d resends in %.1fs",
                       $logged, $i, $elapsed);
Test::More::cmp_ok($slowest, '<', 0.5,
                   "TEST 3: the slowest answer took ${slowest}s");
--- request
POST /allow/2fa/2/pin/8A000000000000000000000000000000/resend/voice
--- error_code: 200
--- error_log eval
[
qr/\[error\] .*tfa_resend_limit_zone "sr": redis at 127\.0\.0\.1:\d+ (?:could not be connected to|closed the connection)[^;]*; on_store_error=reject: resends are refused with 503 \(logged once a second at most\)/,
qr/\[error\] .*tfa_resend_limit_zone "sl": redis at 127\.0\.0\.1:\d+ [^;]+; on_store_error=local: this server's own window decides/,
qr/\[error\] .*tfa_resend_limit_zone "sa": redis at 127\.0\.0\.1:\d+ [^;]+; on_store_error=allow: resends are let through, unlimited/,
]



=== TEST 4: Redis restarted: the workers connect again by themselves, Redis decides again
--- init
::redis_start($::RedisPort);
my ($status, $n) = (0, 0);
while ($status != 200 && $n < 200) {
    # reject mode: 200 only once Redis answers again
    $status = ::resend($ServerPort,
        sprintf '/reject/2fa/2/pin/8B%030d/resend/voice', ++$n);
    Time::HiRes::sleep(0.05) unless $status == 200;
}
Test::More::is($status, 200, "TEST 4: Redis decides again ($n tries)");
# the other worker too, once its backoff (2s at most) is over
Time::HiRes::sleep(2.2);
--- request eval
[
"POST /reject/2fa/2/pin/8B000000000000000000000000000000/resend/voice",
"POST /reject/2fa/2/pin/8B000000000000000000000000000000/resend/voice",
"POST /reject/2fa/2/pin/8B000000000000000000000000000000/resend/voice",
]
--- error_code eval
[200, 200, 429]



=== TEST 5: Redis restarted: the keys are in the new Redis
--- init
Test::More::is(::redis($::RedisPort, 'ZCARD',
                       'tfa:sr:8B000000000000000000000000000000'), 2,
               'TEST 5: two admissions in the restarted Redis');
--- request
POST /reject/2fa/2/pin/8B000000000000000000000000000001/resend/voice
--- error_code: 200
--- error_log eval
qr/\[notice\] .*tfa_resend_limit_zone "sr": redis at 127\.0\.0\.1:\d+ answers again; \d+ resends were decided without it \(on_store_error=reject\)/
--- no_error_log
[alert]
[crit]



=== TEST 6: Redis slow (a script blocks it for 0.6s, past redis_timeout=100ms): each zone answers within the timeout as on_store_error says; no worker waits for Redis
A chain on one nginx: this block starts it; TEST 7 (no --- config) goes on with it.
--- http_config eval
"tfa_resend_limit_zone zone=wr:1m rate=2/1m store=redis://127.0.0.1:$::RedisPort on_store_error=reject;\n"
. "tfa_resend_limit_zone zone=wl:1m rate=2/1m store=redis://127.0.0.1:$::RedisPort on_store_error=local;\n"
. "tfa_resend_limit_zone zone=wa:1m rate=2/1m store=redis://127.0.0.1:$::RedisPort on_store_error=allow;\n"
. "$::Mock"
--- config
    tfa_resend on;
    tfa_resend_credentials basic "user:pass";

    location /reject/ {
        rewrite ^/reject(/.*)$ $1 break;
        tfa_resend_limit zone=wr;
        proxy_pass http://127.0.0.1:1980;
    }

    location /local/ {
        rewrite ^/local(/.*)$ $1 break;
        tfa_resend_limit zone=wl;
        proxy_pass http://127.0.0.1:1980;
    }

    location /allow/ {
        rewrite ^/allow(/.*)$ $1 break;
        tfa_resend_limit zone=wa;
        proxy_pass http://127.0.0.1:1980;
    }
--- init
# every worker connected for every zone first
for my $i (1 .. 12) {
    for my $m (qw(reject local allow)) {
        ::resend($ServerPort, sprintf "/$m/2fa/2/pin/8D%030d/resend/voice", $i);
    }
}
my $block = ::redis_block($::RedisPort, 600);
my @got;
for my $m (qw(reject local allow)) {
    my ($status, $secs) = ::resend($ServerPort,
        "/$m/2fa/2/pin/8D100000000000000000000000000001/resend/voice");
    push @got, $status;
    # well within the 0.6s the script takes, even under valgrind
    Test::More::cmp_ok($secs, '<', $ENV{TEST_NGINX_USE_VALGRIND} ? 0.55 : 0.4,
                       "TEST 6: $m answered in ${secs}s");
}
Test::More::is("@got", '503 200 200', 'TEST 6: reject, local, allow');
# the script ends: Redis answers the commands that timed out
::read_reply($block);
close $block;
Time::HiRes::sleep(0.3);
--- request
POST /reject/2fa/2/pin/8D100000000000000000000000000002/resend/voice
--- error_code: 200



=== TEST 7: Redis slow: its late admissions stay for resends let through (local, allow) and are taken back for the one refused (reject)
--- init
my $pin = '8D100000000000000000000000000001';
Test::More::is(::redis($::RedisPort, 'EXISTS', "tfa:wr:$pin"), 0,
               'TEST 7: reject: the late admission was taken back');
Test::More::is(::redis($::RedisPort, 'ZCARD', "tfa:wl:$pin"), 1,
               'TEST 7: local: the late admission stays');
Test::More::is(::redis($::RedisPort, 'ZCARD', "tfa:wa:$pin"), 1,
               'TEST 7: allow: the late admission stays');
--- request
POST /reject/2fa/2/pin/8D100000000000000000000000000001/resend/voice
--- error_code: 200
--- response_headers
X-RateLimit-Remaining: 1
--- error_log eval
[
qr/\[error\] .*tfa_resend_limit_zone "wr": redis at 127\.0\.0\.1:\d+ (?:did not answer within redis_timeout \(100ms\)|has not answered for \d+ ms)[^;]*; on_store_error=reject/,
qr/\[info\] .*tfa_resend_limit_zone "wr": redis admitted "tfa:wr:8D100000000000000000000000000001" after the resend was decided without it: taken back/,
]
--- no_error_log
[alert]
[crit]



=== TEST 8: a client that goes away while its resend waits for Redis: the request ends (499), the late answer is dropped and its admission taken back
A chain on one nginx: this block starts it; TEST 9 (no --- config) goes on with it.
--- http_config eval
"tfa_resend_limit_zone zone=g:1m rate=1/1m store=redis://127.0.0.1:$::RedisPort redis_timeout=3s on_store_error=reject;\n"
. "$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=g;
        proxy_pass http://127.0.0.1:1980;
    }

    location = /mock-log {
        default_type text/plain;
        alias logs/mock.log;
    }
--- init
for my $i (1 .. 8) {
    ::resend($ServerPort, sprintf '/2fa/2/pin/8F%030d/resend/voice', $i);
}
my $block = ::redis_block($::RedisPort, 600);
for my $i (1 .. 4) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ServerPort, Proto => 'tcp')
        or die "connect: $!";
    print $s "POST /2fa/2/pin/8F100000000000000000000000000001/resend/voice"
             . " HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n";
    Time::HiRes::sleep(0.02);
    close $s;
}
::read_reply($block);
close $block;
Time::HiRes::sleep(0.3);
Test::More::is(::redis($::RedisPort, 'EXISTS',
                       'tfa:g:8F100000000000000000000000000001'), 0,
               'TEST 8: no admission left behind');
--- request eval
[
"POST /2fa/2/pin/8F100000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/8F100000000000000000000000000001/resend/voice",
]
--- error_code eval
[200, 429]



=== TEST 9: ... and the upstream never got the resends of the clients that went away
--- request
GET /mock-log
--- response_body_like: \A(?:8F0{28}\d{2} 200\n){8}8F100000000000000000000000000001 200\n\z
--- error_log eval
[
qr/\[info\] .*client prematurely closed connection/,
qr/\[info\] .*tfa_resend_limit_zone "g": redis admitted "tfa:g:8F100000000000000000000000000001" after the resend was decided without it: taken back/,
]
--- no_error_log
[alert]
[crit]
