# The per-pinId resend limiter: "at most N resends of one pinId in
# any WINDOW", exactly, in shared memory, across worker processes.
#
# Requests go through the real path: tfa_resend on, credentials, proxy_pass
# to a mock Infobip API (port 1991) that writes one line per resend it
# received to logs/mock.log ("PINID STATUS"); GET /mock-log on the gateway
# reads it back, so every block can tell what reached the upstream.
#
# Blocks without --- config continue the previous block on the same running
# nginx: that is how the timed and reload sequences are written.  The first
# block of each such chain says which blocks go on with it.  Each block
# that starts nginx uses its own zone name and pinIds, so the file also
# passes with TEST_NGINX_USE_HUP=1.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend qw(:DEFAULT reload_nginx edit_conf);
use IO::Socket::INET;
use Time::HiRes ();

master_on();
workers(2);
no_shuffle();


# the mock Infobip API (t/TfaResend.pm) on 1991, with rate limit headers of
# its own, which the gateway must replace with its limiter's
our $Mock = mock_infobip(1991, rate_headers => 1);


# ---- helpers for what Test::Nginx has no section for ------------------

# the worker processes that logged a line matching $re
sub logging_pids {
    my $re = shift;

    open my $in, '<', server_root() . '/logs/error.log' or die "error.log: $!";
    my %pids;
    while (<$in>) {
        $pids{$1} = 1 if /\[\w+\] (\d+)#\d+: .*$re/;
    }
    close $in;

    return scalar keys %pids;
}

# new pinIds (tag, then a counter) over keep-alive connections until the
# gateway answers 503; returns how many were admitted
sub fill {
    my ($port, $prefix, $tag, $max) = @_;

    my $s;
    for my $n (0 .. $max - 1) {
        $s //= IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $port, Proto => 'tcp',
                                     Timeout => 10)
            or die "connect to $port: $!";

        my $pin = sprintf '%08X%024X', $tag, $n;

        print $s "POST $prefix/2fa/2/pin/$pin/resend/voice HTTP/1.1\r\n"
                 . "Host: localhost\r\nContent-Length: 0\r\n\r\n";

        my $line = <$s> // die "fill: no answer for $pin";
        my ($status) = $line =~ m{^HTTP/1\.1 (\d{3})};
        my ($len, $close) = (0, 0);

        while (defined(my $h = <$s>)) {
            last if $h eq "\r\n";
            $len = $1 if $h =~ /^Content-Length:\s*(\d+)/i;
            $close = 1 if $h =~ /^Connection:\s*close/i;
        }

        read $s, my $body, $len if $len;

        if ($close) {
            close $s;
            undef $s;
        }

        return $n if $status == 503;
        die "fill: $pin: status $status" unless $status == 200;
    }

    die "fill: $max pinIds and no 503";
}


# ---- configuration errors: nginx -t ------------------------------------

my @bad = (
    [ 'tfa_resend_limit_zone zone=z:1m;',
      qr/"tfa_resend_limit_zone" must have "rate" parameter/ ],
    [ 'tfa_resend_limit_zone rate=3/10m;',
      qr/"tfa_resend_limit_zone" must have "zone" parameter/ ],
    [ 'tfa_resend_limit_zone zone=z rate=3/10m;',
      qr/invalid zone "zone=z": use zone=NAME:SIZE/ ],
    [ 'tfa_resend_limit_zone zone=z:lots rate=3/10m;',
      qr/invalid zone size "zone=z:lots"/ ],
    [ 'tfa_resend_limit_zone zone=z:16k rate=3/10m;',
      qr/zone "zone=z:16k" is too small: at least 32k/ ],
    [ 'tfa_resend_limit_zone zone=z:1m rate=0/10m;',
      qr/invalid rate "rate=0\/10m": the number of resends must be from 1 to 64/ ],
    [ 'tfa_resend_limit_zone zone=z:1m rate=65/10m;',
      qr/invalid rate "rate=65\/10m": the number of resends must be from 1 to 64/ ],
    [ 'tfa_resend_limit_zone zone=z:1m rate=3;',
      qr/invalid rate "rate=3": use rate=N\/WINDOW, as in rate=3\/10m/ ],
    [ 'tfa_resend_limit_zone zone=z:1m rate=3/soon;',
      qr/invalid rate "rate=3\/soon": the window must be a time from 1ms to 30d/ ],
    [ 'tfa_resend_limit_zone zone=z:1m rate=3/31d;',
      qr/invalid rate "rate=3\/31d": the window must be a time from 1ms to 30d/ ],
    [ 'tfa_resend_limit_zone zone=z:1m rate=3/10m burst=5;',
      qr/invalid parameter "burst=5"/ ],
    [ "tfa_resend_limit_zone zone=z:1m rate=3/10m;\n"
      . "tfa_resend_limit_zone zone=z:1m rate=5/1h;",
      qr/duplicate zone "z": tfa_resend_limit_zone "z" is already defined/ ],
    [ 'server { listen 127.0.0.1:1999; '
      . 'tfa_resend_limit_zone zone=z:1m rate=3/10m; }',
      qr/"tfa_resend_limit_zone" directive is not allowed here/ ],
    [ 'tfa_resend_limit zone=nope;',
      qr/unknown tfa_resend_limit_zone "nope"/ ],
    [ 'tfa_resend_limit pins;',
      qr/invalid parameter "pins": use zone=NAME or off/ ],
    [ "tfa_resend_limit_zone zone=z:1m rate=3/10m;\n"
      . "tfa_resend_limit zone=z;\ntfa_resend_limit off;",
      qr/"tfa_resend_limit" directive is duplicate/ ],
    [ 'tfa_resend_limit_status 399;',
      qr/value must be between 400 and 599/ ],
    [ 'tfa_resend_limit_status 600;',
      qr/value must be between 400 and 599/ ],
    [ 'tfa_resend_limit_log_level debug;',
      qr/invalid value "debug"/ ],
    [ 'tfa_resend_limit_dry_run maybe;',
      qr/invalid value "maybe" in "tfa_resend_limit_dry_run" directive, it must be "on" or "off"/ ],
    [ 'tfa_resend_limit_refund maybe;',
      qr/invalid value "maybe" in "tfa_resend_limit_refund" directive, it must be "on" or "off"/ ],
);

for my $t (@bad) {
    my ($conf, $re) = @$t;
    my ($rc, $out) = nginx_t($conf);
    isnt($rc, 0, "nginx -t fails: $conf");
    like($out, qr/\[emerg\] .*$re/, "a clear [emerg]: $conf") or diag($out);
}

my ($rc, $out) = nginx_t(q{
    tfa_resend_limit_zone zone=a:32k rate=1/1ms;
    tfa_resend_limit_zone zone=b:1m rate=64/30d;
    tfa_resend_limit zone=a;
    tfa_resend_limit_status 503;
    tfa_resend_limit_dry_run on;
    tfa_resend_limit_log_level info;
    tfa_resend_limit_refund on;

    server {
        listen 127.0.0.1:1999;
        tfa_resend_limit zone=b;
        tfa_resend_limit_status 429;
        tfa_resend_limit_dry_run off;
        tfa_resend_limit_log_level notice;
        tfa_resend_limit_refund off;

        location / {
            tfa_resend_limit off;
            tfa_resend_limit_status 420;
            tfa_resend_limit_dry_run on;
            tfa_resend_limit_log_level warn;
            tfa_resend_limit_refund on;
        }
    }
});
is($rc, 0, 'every limiter directive is accepted where documented') or diag($out);


run_tests();

__DATA__

=== TEST 1: at most N: each admission counts X-RateLimit-Remaining down, the upstream's own rate limit headers replaced
A chain on one nginx: this block starts it; TEST 2 to 4 (no --- config) go on with it.
--- http_config eval
"tfa_resend_limit_zone zone=t1:1m rate=3/1m;\n$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=t1;
        proxy_pass http://127.0.0.1:1991;
    }

    location = /mock-log {
        default_type text/plain;
        alias logs/mock.log;
    }
--- request eval
[
"POST /2fa/2/pin/11000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/11000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/11000000000000000000000000000001/resend/voice",
]
--- response_headers eval
[
"X-RateLimit-Limit: 3\nX-RateLimit-Remaining: 2\n!Retry-After",
"X-RateLimit-Limit: 3\nX-RateLimit-Remaining: 1\n!Retry-After",
"X-RateLimit-Limit: 3\nX-RateLimit-Remaining: 0\n!Retry-After",
]
--- response_body eval
[
'{"pinId":"11000000000000000000000000000001","to":"41793026727","callStatus":"PROCESSING"}',
'{"pinId":"11000000000000000000000000000001","to":"41793026727","callStatus":"PROCESSING"}',
'{"pinId":"11000000000000000000000000000001","to":"41793026727","callStatus":"PROCESSING"}',
]



=== TEST 2: the N+1th resend in the window: 429, the canonical error body, Retry-After, a log line naming the pinId and the zone
--- request
POST /2fa/2/pin/11000000000000000000000000000001/resend/voice
--- error_code: 429
--- response_headers_like
X-RateLimit-Limit: 3
X-RateLimit-Remaining: 0
Retry-After: (?:59|60)
Content-Type: application/json
--- response_body_like: ^\{"pinId":"11000000000000000000000000000001","to":null,"callStatus":"BAD_REQUEST","requestError":\{"serviceException":\{"messageId":"TOO_MANY_REQUESTS","text":"Too many resends of this PIN: at most 3 in 1m\. Try again in (?:59|60) seconds\."\}\}\}$
--- error_log eval
qr/\[error\] .*limiting resends of pinId "11000000000000000000000000000001" by zone "t1": 3 in the last 60000 ms, retry after \d+ ms/



=== TEST 3: other pinIds are unaffected
--- request
POST /2fa/2/pin/11000000000000000000000000000002/resend/voice
--- response_headers
X-RateLimit-Limit: 3
X-RateLimit-Remaining: 2



=== TEST 4: the upstream received the admitted resends only
--- request
GET /mock-log
--- response_body
11000000000000000000000000000001 200
11000000000000000000000000000001 200
11000000000000000000000000000001 200
11000000000000000000000000000002 200



=== TEST 5: exactly N of many concurrent resends of one pinId are admitted, with 2 workers
Sixty connections to a server listening with reuseport (so the kernel
spreads them over both workers) carry one resend each, written back to back.
--- http_config eval
"tfa_resend_limit_zone zone=t5:1m rate=3/1m;\n$::Mock" . <<'_EOC_';
    server {
        listen 127.0.0.1:1992 reuseport;

        location /2fa/ {
            tfa_resend on;
            tfa_resend_credentials basic "user:pass";
            tfa_resend_limit zone=t5;
            proxy_pass http://127.0.0.1:1991;
        }
    }
_EOC_
--- config
    location = /mock-log {
        default_type text/plain;
        alias logs/mock.log;
    }
--- init
my $pin = '55000000000000000000000000000001';
Test::More::is(::burst(1992, "/2fa/2/pin/$pin/resend/voice", 60),
               '200 x3, 429 x57',
               'TEST 5: 3 of 60 concurrent resends admitted');
Test::More::is(::logging_pids(qr/limiting resends of pinId "$pin"/), 2,
               'TEST 5: both workers rejected some');
--- request
GET /mock-log
--- response_body
55000000000000000000000000000001 200
55000000000000000000000000000001 200
55000000000000000000000000000001 200



=== TEST 6: sliding window 2/2s, t=0: admitted
A chain on one nginx: this block starts it; TEST 7 to 12 (no --- config) go on with it.
--- http_config eval
"tfa_resend_limit_zone zone=t6:1m rate=2/2s;\n$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=t6;
        proxy_pass http://127.0.0.1:1991;
    }

    location = /mock-log {
        default_type text/plain;
        alias logs/mock.log;
    }
--- init
$::T0 = Time::HiRes::time();
--- request
POST /2fa/2/pin/66000000000000000000000000000001/resend/voice
--- response_headers
X-RateLimit-Limit: 2
X-RateLimit-Remaining: 1



=== TEST 7: sliding window, t=1s: admitted, the last one for now
--- init
::sleep_until($::T0 + 1.0);
--- request
POST /2fa/2/pin/66000000000000000000000000000001/resend/voice
--- response_headers
X-RateLimit-Limit: 2
X-RateLimit-Remaining: 0



=== TEST 8: sliding window, t=1s: rejected until the first admission leaves the window
--- request
POST /2fa/2/pin/66000000000000000000000000000001/resend/voice
--- error_code: 429
--- response_headers_like
X-RateLimit-Remaining: 0
Retry-After: [12]



=== TEST 9: sliding window, t=2.3s: the first admission has left the window, the second has not: one is admitted (a fixed 2s window would have room for two)
--- init
::sleep_until($::T0 + 2.3);
--- request
POST /2fa/2/pin/66000000000000000000000000000001/resend/voice
--- response_headers
X-RateLimit-Limit: 2
X-RateLimit-Remaining: 0



=== TEST 10: sliding window, t=2.3s: the next is rejected while the second admission is in the window, Retry-After until it leaves
--- request
POST /2fa/2/pin/66000000000000000000000000000001/resend/voice
--- error_code: 429
--- response_headers
X-RateLimit-Remaining: 0
Retry-After: 1



=== TEST 11: t=5s: every admission has left the window: the pinId has its whole quota again
--- init
::sleep_until($::T0 + 5.0);
--- request
POST /2fa/2/pin/66000000000000000000000000000001/resend/voice
--- response_headers
X-RateLimit-Limit: 2
X-RateLimit-Remaining: 1



=== TEST 12: sliding window: the upstream received the four admitted resends
--- request
GET /mock-log
--- response_body
66000000000000000000000000000001 200
66000000000000000000000000000001 200
66000000000000000000000000000001 200
66000000000000000000000000000001 200



=== TEST 13: dry run: counts and sets the variables, rejects nothing, sends no Retry-After
A chain on one nginx: this block starts it; TEST 14 and 15 (no --- config) go on with it.
--- http_config eval
"tfa_resend_limit_zone zone=t13:1m rate=1/1m;\n$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=t13;
        tfa_resend_limit_dry_run on;
        proxy_pass http://127.0.0.1:1991;

        add_header X-Limit-Status "[$tfa_resend_limit_status]" always;
        add_header X-Limit-Remaining "[$tfa_resend_limit_remaining]" always;
    }

    location = /mock-log {
        default_type text/plain;
        alias logs/mock.log;
    }
--- request eval
[
"POST /2fa/2/pin/13000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/13000000000000000000000000000001/resend/voice",
]
--- response_headers eval
[
"X-Limit-Status: [PASSED]\nX-Limit-Remaining: [0]\nX-RateLimit-Limit: 1\nX-RateLimit-Remaining: 0\n!Retry-After",
"X-Limit-Status: [REJECTED_DRY_RUN]\nX-Limit-Remaining: [0]\nX-RateLimit-Limit: 1\nX-RateLimit-Remaining: 0\n!Retry-After",
]



=== TEST 14: dry run: the rejection that was not made is logged
--- request
POST /2fa/2/pin/13000000000000000000000000000001/resend/voice
--- response_headers
X-Limit-Status: [REJECTED_DRY_RUN]
--- error_log eval
qr/\[error\] .*limiting resends, dry run, of pinId "13000000000000000000000000000001" by zone "t13"/



=== TEST 15: dry run: every resend reached the upstream
--- request
GET /mock-log
--- response_body
13000000000000000000000000000001 200
13000000000000000000000000000001 200
13000000000000000000000000000001 200



=== TEST 16: tfa_resend_limit_status and _log_level; $tfa_resend_limit_status; inherited from the server, off in a location
A chain on one nginx: this block starts it; TEST 17 (no --- config) goes on with it.
--- http_config eval
"tfa_resend_limit_zone zone=t16:1m rate=1/1m;\n$::Mock"
--- config
    tfa_resend_limit zone=t16;
    tfa_resend_limit_status 503;
    tfa_resend_limit_log_level info;

    add_header X-Limit-Status "[$tfa_resend_limit_status]" always;
    add_header X-Limit-Remaining "[$tfa_resend_limit_remaining]" always;

    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        proxy_pass http://127.0.0.1:1991;
    }

    location /free/ {
        rewrite ^/free(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit off;
        proxy_pass http://127.0.0.1:1991;
    }
--- request eval
[
"POST /2fa/2/pin/16000000000000000000000000000001/resend/voice",
"POST /free/2fa/2/pin/16000000000000000000000000000002/resend/voice",
"POST /free/2fa/2/pin/16000000000000000000000000000002/resend/voice",
]
--- response_headers eval
[
"X-Limit-Status: [PASSED]\nX-Limit-Remaining: [0]\nX-RateLimit-Limit: 1\nX-RateLimit-Remaining: 0",
"X-Limit-Status: []\nX-Limit-Remaining: []\n!X-RateLimit-Limit\n!X-RateLimit-Remaining",
"X-Limit-Status: []\nX-Limit-Remaining: []\n!X-RateLimit-Limit\n!X-RateLimit-Remaining",
]



=== TEST 17: the configured status, the log line at the configured level
--- request
POST /2fa/2/pin/16000000000000000000000000000001/resend/voice
--- error_code: 503
--- response_headers_like
X-Limit-Status: \[REJECTED\]
X-Limit-Remaining: \[0\]
X-RateLimit-Limit: 1
X-RateLimit-Remaining: 0
Retry-After: (?:59|60)
--- response_body_like: ^\{"pinId":"16000000000000000000000000000001","to":null,"callStatus":"ERROR","requestError":\{"serviceException":\{"messageId":"TOO_MANY_REQUESTS","text":"Too many resends of this PIN: at most 1 in 1m\. Try again in (?:59|60) seconds\."\}\}\}$
--- error_log eval
qr/\[info\] .*limiting resends of pinId "16000000000000000000000000000001" by zone "t16"/
--- no_error_log
[error]



=== TEST 18: an intercepted resend answered before the limiter (a bad body) carries the headers and is not counted
--- http_config eval
"tfa_resend_limit_zone zone=t18:1m rate=2/1m;\n$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=t18;
        proxy_pass http://127.0.0.1:1991;
    }
--- more_headers eval
["Content-Type: application/json", "Content-Type: application/json"]
--- request eval
[
"POST /2fa/2/pin/18000000000000000000000000000001/resend/voice\n{not json",
"POST /2fa/2/pin/18000000000000000000000000000001/resend/voice\n{}",
]
--- error_code eval
[400, 200]
--- response_headers eval
[
"X-RateLimit-Limit: 2\nX-RateLimit-Remaining: 2",
"X-RateLimit-Limit: 2\nX-RateLimit-Remaining: 1",
]



=== TEST 19: refund on: a resend the upstream never answered (502 made by nginx) is taken back
A chain on one nginx: this block starts it; TEST 20 and 21 (no --- config) go on with it.
--- http_config eval
"tfa_resend_limit_zone zone=t19:1m rate=1/1m;\n$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=t19;
        tfa_resend_limit_refund on;
        proxy_pass http://127.0.0.1:1;
    }

    location /norefund/ {
        rewrite ^/norefund(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=t19;
        proxy_pass http://127.0.0.1:1;
    }
--- request eval
[
"POST /2fa/2/pin/19000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/19000000000000000000000000000001/resend/voice",
]
--- error_code eval
[502, 502]
--- response_headers eval
[
"X-RateLimit-Limit: 1\nX-RateLimit-Remaining: 0",
"X-RateLimit-Limit: 1\nX-RateLimit-Remaining: 0",
]



=== TEST 20: refund on: admitted a third time, the refund logged
--- request
POST /2fa/2/pin/19000000000000000000000000000001/resend/voice
--- error_code: 502
--- error_log eval
qr/\[info\] .*tfa_resend_limit refunded the resend of pinId "19000000000000000000000000000001" in zone "t19": the upstream's status was 502/



=== TEST 21: refund off (the default): a 502 counts
--- request eval
[
"POST /norefund/2fa/2/pin/19000000000000000000000000000002/resend/voice",
"POST /norefund/2fa/2/pin/19000000000000000000000000000002/resend/voice",
]
--- error_code eval
[502, 429]



=== TEST 22: refund on: a timed out upstream (504) is taken back
--- http_config eval
"tfa_resend_limit_zone zone=t22:1m rate=1/1m;\n$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=t22;
        tfa_resend_limit_refund on;
        proxy_read_timeout 300ms;
        proxy_pass http://127.0.0.1:1993;
    }
--- init
# a listener that never accepts: connections complete, nothing answers
$::Blackhole = IO::Socket::INET->new(LocalAddr => '127.0.0.1:1993',
                                     Listen => 64, ReuseAddr => 1)
    or die "1993: $!";
--- request eval
[
"POST /2fa/2/pin/22000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/22000000000000000000000000000001/resend/voice",
]
--- error_code eval
[504, 504]
--- timeout: 5



=== TEST 23: refund on an upstream 5xx takes back that request's own admission, t=0: admitted
A chain on one nginx: this block starts it; TEST 24 to 27 (no --- config) go on with it.
--- http_config eval
"tfa_resend_limit_zone zone=t23:1m rate=2/3s;\n$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=t23;
        tfa_resend_limit_refund on;
        tfa_resend_pass_header X-Mock-Status;
        proxy_pass http://127.0.0.1:1991;
    }

    location = /mock-log {
        default_type text/plain;
        alias logs/mock.log;
    }
--- init
close $::Blackhole if $::Blackhole;
$::T0 = Time::HiRes::time();
--- request
POST /2fa/2/pin/23000000000000000000000000000001/resend/voice
--- response_headers
X-RateLimit-Remaining: 1



=== TEST 24: refund, t=1.2s: the upstream answers 500: admitted, then taken back
--- init
::sleep_until($::T0 + 1.2);
--- more_headers
X-Mock-Status: 500
--- request
POST /2fa/2/pin/23000000000000000000000000000001/resend/voice
--- error_code: 500
--- response_headers
X-RateLimit-Remaining: 0
--- error_log eval
qr/tfa_resend_limit refunded the resend of pinId "23000000000000000000000000000001" in zone "t23": the upstream's status was 500/



=== TEST 25: refund, t=1.2s: so one more is admitted
--- request
POST /2fa/2/pin/23000000000000000000000000000001/resend/voice
--- response_headers
X-RateLimit-Remaining: 0



=== TEST 26: refund, t=1.2s: Retry-After counts from the first admission (t=0): the refund took back the t=1.2s one, not another
--- request
POST /2fa/2/pin/23000000000000000000000000000001/resend/voice
--- error_code: 429
--- response_headers
Retry-After: 2



=== TEST 27: refund: what the upstream received
--- request
GET /mock-log
--- response_body
23000000000000000000000000000001 200
23000000000000000000000000000001 500
23000000000000000000000000000001 200



=== TEST 28: reload: two admissions before
A chain on one nginx: this block starts it; TEST 29 to 31 (no --- config) go on with it.
--- http_config eval
"tfa_resend_limit_zone zone=t28:1m rate=2/1m;\n$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=t28;
        proxy_pass http://127.0.0.1:1991;
    }
--- request eval
[
"POST /2fa/2/pin/28000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/28000000000000000000000000000001/resend/voice",
]
--- response_headers eval
[
"X-RateLimit-Remaining: 1",
"X-RateLimit-Remaining: 0",
]



=== TEST 29: reload with the same zone name, size and rate keeps the counts
--- init
::reload_nginx();
--- request
POST /2fa/2/pin/28000000000000000000000000000001/resend/voice
--- error_code: 429



=== TEST 30: reload with a new zone size starts afresh
--- init
::edit_conf('zone=t28:1m rate=2/1m', 'zone=t28:2m rate=2/1m');
::reload_nginx();
--- request
POST /2fa/2/pin/28000000000000000000000000000001/resend/voice
--- response_headers
X-RateLimit-Limit: 2
X-RateLimit-Remaining: 1



=== TEST 31: reload with a different N in the same zone is refused with an [emerg]; the running configuration goes on with its counts
--- init
::edit_conf('rate=2/1m', 'rate=3/1m');
::reload_nginx('fails');
--- request
POST /2fa/2/pin/28000000000000000000000000000001/resend/voice
--- response_headers
X-RateLimit-Limit: 2
X-RateLimit-Remaining: 0
--- error_log eval
qr/\[emerg\] .*tfa_resend_limit_zone "t28" has rate=3\/60000ms while previously it had rate=2\/60000ms: a zone cannot change its number of resends on reload; give it a new name or size to start afresh/



=== TEST 32: a full zone: a new pinId gets 503 and the canonical body; a tracked pinId keeps its history; bytes per pinId measured
A chain on one nginx: this block starts it; TEST 33 (no --- config) goes on with it.
Two zones of 64k and 256k (rate=4/1h: N=4, nothing expires) are filled
with new pinIds until the first 503; the difference in size over the
difference in pinIds is what one tracked pinId costs, slab pages included.
--- log_level: warn
--- http_config eval
"tfa_resend_limit_zone zone=small:64k rate=4/1h;\n"
. "tfa_resend_limit_zone zone=large:256k rate=4/1h;\n$::Mock"
--- config
    keepalive_requests 100000;

    location /small/ {
        rewrite ^/small(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=small;
        proxy_pass http://127.0.0.1:1991;
    }

    location /large/ {
        rewrite ^/large(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=large;
        proxy_pass http://127.0.0.1:1991;
    }
--- init
my $small = ::fill($ServerPort, '/small', 0x32000000, 100000);
my $large = ::fill($ServerPort, '/large', 0x32100000, 100000);
my $bytes = (256 - 64) * 1024 / ($large - $small);
Test::More::diag(sprintf "TEST 32: 64k holds %d pinIds, 256k %d: "
                 . "%.1f bytes per tracked pinId (N=4)",
                 $small, $large, $bytes);
Test::More::cmp_ok($bytes, '<=', 128, 'TEST 32: at most 128 bytes a pinId');
Test::More::cmp_ok($small, '>=', 400, 'TEST 32: 64k holds 400 pinIds');
--- request eval
[
"POST /small/2fa/2/pin/32FFFFFF000000000000000000000001/resend/voice",
"POST /small/2fa/2/pin/32000000000000000000000000000000/resend/voice",
"POST /large/2fa/2/pin/32FFFFFF000000000000000000000002/resend/voice",
]
--- error_code eval
[503, 200, 503]
--- response_headers eval
[
"X-RateLimit-Limit: 4\nX-RateLimit-Remaining: 0\n!Retry-After",
"X-RateLimit-Limit: 4\nX-RateLimit-Remaining: 2",
"X-RateLimit-Limit: 4\nX-RateLimit-Remaining: 0\n!Retry-After",
]
--- response_body eval
[
'{"pinId":"32FFFFFF000000000000000000000001","to":null,"callStatus":"ERROR","requestError":{"serviceException":{"messageId":"GENERAL_ERROR","text":"The resend limiter has no room for this PIN now. Try again later."}}}',
'{"pinId":"32000000000000000000000000000000","to":"41793026727","callStatus":"PROCESSING"}',
'{"pinId":"32FFFFFF000000000000000000000002","to":null,"callStatus":"ERROR","requestError":{"serviceException":{"messageId":"GENERAL_ERROR","text":"The resend limiter has no room for this PIN now. Try again later."}}}',
]
--- timeout: 30



=== TEST 33: a full zone: the refusal is logged
--- request
POST /small/2fa/2/pin/32FFFFFF000000000000000000000003/resend/voice
--- error_code: 503
--- error_log eval
qr/\[error\] .*tfa_resend_limit_zone "small" is full: no room for pinId "32FFFFFF000000000000000000000003"/



=== TEST 34: a full zone whose windows have passed: the expired pinIds are reclaimed for new ones
--- log_level: warn
--- http_config eval
"tfa_resend_limit_zone zone=t34:32k rate=1/2s;\n$::Mock"
--- config
    keepalive_requests 100000;

    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=t34;
        proxy_pass http://127.0.0.1:1991;
    }
--- init
my $n = ::fill($ServerPort, '', 0x34000000, 100000);
Test::More::cmp_ok($n, '>', 0, "TEST 34: 32k holds $n pinIds");
Time::HiRes::sleep(2.2);
Test::More::is(::fill($ServerPort, '', 0x34100000, 100000), $n,
               'TEST 34: as many new pinIds once the windows have passed');
--- request
POST /2fa/2/pin/34000000000000000000000000000000/resend/voice
--- error_code: 503
--- timeout: 30




=== TEST 35: one pinId, one count: the same pinId in lower or mixed case is the same pinId (tfa_resend_pin_case upper, the default); with off, another
A chain on one nginx: this block starts it; TEST 36 (no --- config) goes on with it.
--- http_config eval
"tfa_resend_limit_zone zone=t35:1m rate=3/1m;\n$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=t35;
        proxy_pass http://127.0.0.1:1991;
    }

    location /raw/ {
        rewrite ^/raw(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_pin_case off;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=t35;
        proxy_pass http://127.0.0.1:1991;
    }
--- request eval
[
"POST /2fa/2/pin/35ABCDEF000000000000000000000001/resend/voice",
"POST /2fa/2/pin/35ABCDEF000000000000000000000001/resend/voice",
"POST /2fa/2/pin/35abcdef000000000000000000000001/resend/voice",
"POST /2fa/2/pin/35AbCdEf000000000000000000000001/resend/voice",
"POST /raw/2fa/2/pin/35abcdef000000000000000000000001/resend/voice",
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



=== TEST 36: one pinId, one count: the rejection names the folded pinId
--- request
POST /2fa/2/pin/35abcdef000000000000000000000001/resend/voice
--- error_code: 429
--- error_log eval
qr/limiting resends of pinId "35ABCDEF000000000000000000000001" by zone "t35"/



=== TEST 37: refund on: an upstream 401 placed no call and is taken back; logged at error as a likely credentials problem, never the secret
A chain on one nginx: this block starts it; TEST 38 to 41 (no --- config) go on with it.
--- http_config eval
"tfa_resend_limit_zone zone=t37:1m rate=1/1m;\n$::Mock"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:s3cret-t37";
        tfa_resend_pass_header X-Mock-Status;
        tfa_resend_limit zone=t37;
        tfa_resend_limit_refund on;
        proxy_pass http://127.0.0.1:1991;
    }

    location /norefund/ {
        rewrite ^/norefund(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_credentials basic "user:s3cret-t37";
        tfa_resend_pass_header X-Mock-Status;
        tfa_resend_limit zone=t37;
        proxy_pass http://127.0.0.1:1991;
    }
--- more_headers
X-Mock-Status: 401
--- request
POST /2fa/2/pin/37000000000000000000000000000001/resend/voice
--- error_code: 401
--- error_log eval
[
qr/\[error\] .*tfa_resend: the upstream answered 401 to a resend: likely a problem with the gateway's credentials/,
qr/\[info\] .*tfa_resend_limit refunded the resend of pinId "37000000000000000000000000000001" in zone "t37": the upstream's status was 401/,
]
--- no_error_log eval
qr/answered 401.*(?:s3cret|dXNlcjpzM2NyZXQtdDM3)/



=== TEST 38: refund on: an upstream 403 is taken back
--- more_headers
X-Mock-Status: 403
--- request
POST /2fa/2/pin/37000000000000000000000000000001/resend/voice
--- error_code: 403
--- error_log eval
qr/\[info\] .*tfa_resend_limit refunded the resend of pinId "37000000000000000000000000000001" in zone "t37": the upstream's status was 403/



=== TEST 39: refund on: an upstream 404 (a pinId it does not know) is taken back, and logged at error as nothing
--- more_headers
X-Mock-Status: 404
--- request
POST /2fa/2/pin/37000000000000000000000000000001/resend/voice
--- error_code: 404
--- error_log eval
qr/\[info\] .*tfa_resend_limit refunded the resend of pinId "37000000000000000000000000000001" in zone "t37": the upstream's status was 404/
--- no_error_log
answered 404



=== TEST 40: refund on: an upstream 429 (its own limit) is taken back
--- more_headers
X-Mock-Status: 429
--- request
POST /2fa/2/pin/37000000000000000000000000000001/resend/voice
--- error_code: 429
--- error_log eval
qr/\[info\] .*tfa_resend_limit refunded the resend of pinId "37000000000000000000000000000001" in zone "t37": the upstream's status was 429/



=== TEST 41: after four refused calls the pinId (rate=1) is admitted, once; with refund off, an upstream 4xx counts
--- request eval
[
"POST /2fa/2/pin/37000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/37000000000000000000000000000001/resend/voice",
"POST /norefund/2fa/2/pin/37000000000000000000000000000002/resend/voice",
"POST /norefund/2fa/2/pin/37000000000000000000000000000002/resend/voice",
]
--- more_headers eval
["", "", "X-Mock-Status: 404", "X-Mock-Status: 404"]
--- error_code eval
[200, 429, 404, 429]



=== TEST 42: an upstream 401 or 403 is logged once a second per location at the most (one worker's connection: 401, 403, a second later 403)
--- http_config eval
$::Mock
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_pass_header X-Mock-Status;
        proxy_pass http://127.0.0.1:1991;
    }
--- init
my $log = server_root() . '/logs/error.log';
my $re = qr/\[error\] .*the upstream answered 40[13] to a resend: likely a problem with the gateway's credentials/;
my $before = ::count_lines($log, $re);
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ServerPort,
                              Proto => 'tcp', Timeout => 10)
    or die "connect: $!";
for my $status (401, 403, 'sleep', 403) {
    if ($status eq 'sleep') {
        Time::HiRes::sleep(1.1);
        next;
    }
    print $s "POST /2fa/2/pin/42000000000000000000000000000001/resend/voice HTTP/1.1\r\n"
             . "Host: localhost\r\nContent-Length: 0\r\nX-Mock-Status: $status\r\n\r\n";
    my ($len, $body) = (0, '');
    while (defined(my $h = <$s>)) {
        last if $h eq "\r\n";
        $len = $1 if $h =~ /^Content-Length:\s*(\d+)/i;
    }
    read $s, $body, $len;
}
close $s;
Test::More::is(::count_lines($log, $re) - $before, 2,
               'TEST 42: two lines for three refusals over a second');
--- request
GET /2fa/2/pin
--- error_code: 404



=== TEST 43: a flood of unknown pinIds with refund on leaves nothing behind: 700 new pinIds answered 404 in a 64k zone (room for about 460), then a new pinId is admitted
--- log_level: warn
--- http_config eval
"tfa_resend_limit_zone zone=t43:64k rate=3/10m;\n$::Mock"
--- config
    keepalive_requests 100000;

    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_pass_header X-Mock-Status;
        tfa_resend_limit zone=t43;
        tfa_resend_limit_refund on;
        proxy_pass http://127.0.0.1:1991;
    }
--- init
Test::More::is(::flood($ServerPort, '', 700, 404), '404 x700',
               'TEST 43: every unknown pinId reached the upstream, none got 503');
--- request eval
[
"POST /2fa/2/pin/43000000000000000000000000000001/resend/voice",
"POST /2fa/2/pin/43000000000000000000000000000001/resend/voice",
]
--- error_code eval
[200, 200]
--- response_headers eval
[
"X-RateLimit-Remaining: 2",
"X-RateLimit-Remaining: 1",
]
--- no_error_log
is full
--- timeout: 30
