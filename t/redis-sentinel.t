# The Redis store of the resend limiter behind Sentinel
# (store=redis-sentinel://): the Sentinels are asked in order for the
# master, which must say it is master (ROLE); the gateways follow a
# failover, forced (SENTINEL FAILOVER) and after the master stopped, within
# a stated time; the counts written before the failover are still counted
# after it, where the replica had them; and with on_store_error=reject no
# pinId is admitted more than N times while the master changes.
#
# A master, a replica and three Sentinels (Debian's redis-server and
# redis-sentinel) are started by this file on free loopback ports and
# stopped after the tests (t/TfaResend.pm).  The mock Infobip API (port
# 1980) answers the resends let through.  A second gateway nginx (port
# 1982, 2 workers) with the same zone runs beside the tested one (1981,
# 2 workers).
#
# The blocks are one chain on one nginx: TEST 1 starts it, the others (no
# --- config) go on with it, and the failovers happen in their --- init.

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

our $Master = free_port();
our $Replica = free_port($Master);
our @Sentinels;
push @Sentinels, free_port($Master, $Replica, @Sentinels) for 1 .. 3;

redis_start($Master);
redis_start($Replica, '--replicaof', '127.0.0.1', $Master);
sentinel_start($_, $Master, 'tfa') for @Sentinels;

# a fourth Sentinel, with a password, watching the same master under a
# name of its own (the three others do not count it): stopped in TEST 1,
# before the failovers
our $Locked = free_port($Master, $Replica, @Sentinels);
sentinel_start($Locked, $Master, 'tfa2', 'requirepass Sentinel-Pass-3e9');
our $SentinelPass = secret_file($Dir, 'sentinel.pass', "Sentinel-Pass-3e9\n");
our $WrongPass = secret_file($Dir, 'wrong.pass', "Wrong-Pass-6c1\n");

# until every Sentinel knows the replica and the two other Sentinels: a
# failover needs them
for my $i (1 .. 300) {
    my $ready = grep {
        my $r = eval { ::redis($_, 'SENTINEL', 'replicas', 'tfa') } || [];
        my $s = eval { ::redis($_, 'SENTINEL', 'sentinels', 'tfa') } || [];
        ref $r && @$r == 1 && ref $s && @$s == 2
    } @Sentinels;
    last if $ready == 3;
    die "the Sentinels did not find each other in 30s" if $i == 300;
    Time::HiRes::sleep(0.1);
}

our $Url = 'store=redis-sentinel://'
           . join(',', map { "127.0.0.1:$_" } @Sentinels) . '/tfa';

our $Zone = "tfa_resend_limit_zone zone=ha:1m rate=3/10m redis_timeout=1s "
            . "$Url on_store_error=reject;";

our $Locked_zones =
    "tfa_resend_limit_zone zone=sp:1m rate=3/10m redis_timeout=1s "
    . "store=redis-sentinel://127.0.0.1:$Locked/tfa2 "
    . "redis_sentinel_password_file=$SentinelPass on_store_error=reject;\n"
    . "tfa_resend_limit_zone zone=sw:1m rate=3/10m redis_timeout=1s "
    . "store=redis-sentinel://127.0.0.1:$Locked/tfa2 "
    . "redis_sentinel_password_file=$WrongPass on_store_error=reject;\n";

our $Mock = mock_infobip(1980);
our $Gateway2 = gateway_start("$Dir/gw2", 1982, 'ha', $Zone);

# the time a gateway may take to follow a new master once the Sentinels
# name it: +switch-master, or a Sentinel asked after a failed connection
our $Follow = 5;


# the master a Sentinel names
sub master_port {
    my $r = eval { ::redis($Sentinels[0], 'SENTINEL',
                           'get-master-addr-by-name', 'tfa') };
    return ref $r ? $r->[1] : 0;
}

# the Redis answering on $port counts $n admissions of $pin, within 5s
sub wait_count {
    my ($port, $pin, $n) = @_;
    my $c;
    for (1 .. 100) {
        $c = eval { ::redis($port, 'ZCARD', "tfa:ha:$pin") } // -1;
        return $c if $c == $n;
        Time::HiRes::sleep(0.05);
    }
    return $c;
}

# Until both gateways follow the master on $new_port: resends of $pin
# (used up before) to both gateways in turn, each followed by a probe, a
# resend of a pinId of its own; a probe counts once the Sentinels name the
# new master (it is promoted then, and no longer replicates the old one)
# and the new master has the probe's key.  8 probes in a row of each
# gateway on the new master (whichever of its 2 workers took it) are taken
# as followed.  $fresh: a pinId not used before, resent beside $pin.
# Returns the seconds from $t0 until the Sentinels named the
# new master, the seconds from then until both gateways followed (or
# undef after 30s and $Follow), and the status codes of $pin's resends.
our $Probe = 0;

sub follow {
    my ($pin, $new_port, $t0, $fresh) = @_;
    my (%seen, %run, $named);

    while (Time::HiRes::time() - ($named // $t0) < ($named ? $Follow : 30)) {
        my $now = Time::HiRes::time();
        $named //= $now if master_port() == $new_port;

        for my $port (1981, 1982) {
            my $s = scalar ::resend($port, "/2fa/2/pin/$pin/resend/voice");
            $seen{$s}++;

            if ($fresh) {
                $s = scalar ::resend($port, "/2fa/2/pin/$fresh/resend/voice");
                $seen{"$s (fresh)"}++;
            }

            next unless $named;

            my $probe = sprintf '87%030d', ++$Probe;
            $s = scalar ::resend($port, "/2fa/2/pin/$probe/resend/voice");
            my $there = eval { ::redis($new_port, 'EXISTS', "tfa:ha:$probe") }
                        // 0;
            $run{$port} = ($s == 200 && $there) ? ($run{$port} // 0) + 1 : 0;
        }

        if (($run{1981} // 0) >= 8 && ($run{1982} // 0) >= 8) {
            return ($named - $t0, Time::HiRes::time() - $named,
                    join ', ', map { "$_ x$seen{$_}" } sort keys %seen);
        }

        Time::HiRes::sleep(0.02);
    }

    return (($named // Time::HiRes::time()) - $t0, undef,
            join ', ', map { "$_ x$seen{$_}" } sort keys %seen);
}


# ---- configuration: nginx -t ---------------------------------------------

my $z = 'tfa_resend_limit_zone zone=z:1m rate=3/10m';

my @bad = (
    [ "$z store=redis-sentinel://127.0.0.1:26379;",
      qr/invalid store "store=redis-sentinel:\/\/127.0.0.1:26379": use store=redis-sentinel:\/\/HOST:PORT\[,HOST:PORT...\]\/MASTER_NAME\[\/DB\]/ ],
    [ "$z store=redis-sentinel://127.0.0.1:26379,/tfa;",
      qr/a Sentinel "": / ],
    [ "$z store=redis-sentinel://127.0.0.1:99999/tfa;",
      qr/a Sentinel "127.0.0.1:99999": invalid port/ ],
    [ "$z store=redis-sentinel://127.0.0.1:26379/tfa/x;",
      qr/the database is a number/ ],
    [ "$z store=redis://127.0.0.1 redis_sentinel_password_file=/dev/null;",
      qr/invalid parameter "redis_sentinel_password_file=\/dev\/null": only with store=redis-sentinel:\/\/ or store=rediss-sentinel:\/\// ],
    [ "$z store=redis-sentinel://127.0.0.1/tfa redis_ssl_verify=on;",
      qr/invalid parameter "redis_ssl_verify=on": only with store=rediss:\/\/ or store=rediss-sentinel:\/\// ],
);

for my $t (@bad) {
    my ($conf, $re) = @$t;
    my ($rc, $out) = nginx_t($conf);
    isnt($rc, 0, "nginx -t fails: $conf");
    like($out, qr/\[emerg\] .*$re/, "a clear [emerg]: $conf") or diag($out);
}

{
    my ($rc, $out) = nginx_t(qq{
        $z $Url/2 redis_timeout=250ms on_store_error=local;
        tfa_resend_limit_zone zone=b:1m rate=3/10m
            store=rediss-sentinel://127.0.0.1:1,[::1]:2,localhost/tfa
            redis_ssl_verify=off;
        tfa_resend_limit zone=z;
    });
    is($rc, 0, 'every Sentinel parameter is accepted') or diag($out);
}


run_tests();

__DATA__

=== TEST 1: behind Sentinel: the master is found and counts; both gateways share it
A chain on one nginx: this block starts it; TEST 2 to 5 (no --- config) go on with it.
--- http_config eval
"$::Zone\n$::Locked_zones$::Mock" . <<'_EOC_';
    server {
        listen 127.0.0.1:1981 reuseport;

        location /2fa/ {
            tfa_resend on;
            tfa_resend_credentials basic "user:pass";
            tfa_resend_limit zone=ha;
            proxy_pass http://127.0.0.1:1980;
        }
    }
_EOC_
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=ha;
        proxy_pass http://127.0.0.1:1980;
    }

    location /sp/ {
        rewrite ^/sp(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=sp;
        proxy_pass http://127.0.0.1:1980;
    }

    location /sw/ {
        rewrite ^/sw(/.*)$ $1 break;
        tfa_resend on;
        tfa_resend_credentials basic "user:pass";
        tfa_resend_limit zone=sw;
        proxy_pass http://127.0.0.1:1980;
    }

    location = /mock-log {
        default_type text/plain;
        alias logs/mock.log;
    }
--- init
::wait_port($_) for 1981, 1982;
Test::More::is(scalar ::resend($ServerPort, '/sp/2fa/2/pin/86000000000000000000000000000005/resend/voice'),
               200, 'TEST 1: a Sentinel with a password, redis_sentinel_password_file right: admitted');
Test::More::is(::redis($::Master, 'ZCARD', 'tfa:sp:86000000000000000000000000000005'), 1,
               'TEST 1: ... counted on the master it named');
Test::More::is(scalar ::resend($ServerPort, '/sw/2fa/2/pin/86000000000000000000000000000006/resend/voice'),
               503, 'TEST 1: redis_sentinel_password_file wrong: a store error (reject)');
my $log = Test::Nginx::Util::server_root() . '/logs/error.log';
Test::More::is(::count_lines($log, qr/tfa_resend_limit_zone "sw": redis at "tfa2" \(sentinel\) could not be found: the Sentinel at 127\.0\.0\.1:\d+ refused redis_sentinel_password_file: "WRONGPASS[^"]*"; on_store_error=reject/),
               1, 'TEST 1: the error line says the Sentinel refused the password');
Test::More::is(::count_lines($log, qr/Sentinel-Pass|Wrong-Pass/), 0,
               'TEST 1: no password in the log');
::redis_stop($::Locked);
my @s = map { scalar ::resend($_, '/2fa/2/pin/86000000000000000000000000000001/resend/voice') }
        1981, 1982;
Test::More::is("@s", '200 200', 'TEST 1: pin 1 admitted twice, once by each gateway');
@s = map { scalar ::resend($_, '/2fa/2/pin/86000000000000000000000000000002/resend/voice') }
     1981, 1982, 1981, 1982;
Test::More::is("@s", '200 200 200 429', 'TEST 1: pin 2 used up: 3 of 4');
Test::More::is(::wait_count($::Master, '86000000000000000000000000000001', 2), 2,
               'TEST 1: pin 1 counted twice on the master');
Test::More::is(::wait_count($::Replica, '86000000000000000000000000000001', 2), 2,
               'TEST 1: ... and on the replica');
Test::More::is(::wait_count($::Replica, '86000000000000000000000000000002', 3), 3,
               'TEST 1: pin 2 counted three times on the replica');
--- request
GET /mock-log
--- response_body
86000000000000000000000000000005 200
86000000000000000000000000000001 200
86000000000000000000000000000001 200
86000000000000000000000000000002 200
86000000000000000000000000000002 200
86000000000000000000000000000002 200
--- no_error_log
[alert]
[crit]



=== TEST 2: SENTINEL FAILOVER: both gateways follow the replica within the stated time; the counts written before are kept; no pinId goes past N
--- init
my $t0 = Time::HiRes::time();
Test::More::is(::redis($::Sentinels[0], 'SENTINEL', 'FAILOVER', 'tfa'), 'OK',
               'TEST 2: SENTINEL FAILOVER accepted');
my ($named, $secs, $seen) = ::follow('86000000000000000000000000000002', $::Replica, $t0);
Test::More::ok(defined $secs && $secs < $::Follow,
               sprintf 'TEST 2: the Sentinels named the new master %.1fs after SENTINEL FAILOVER; both gateways followed %s (%s)',
               $named, defined $secs ? sprintf('%.1fs later', $secs) : "not within $::Follow s", $seen);
Test::More::unlike($seen, qr/200/, "TEST 2: pin 2, used up before, never admitted again ($seen)");
--- request
POST /2fa/2/pin/86000000000000000000000000000001/resend/voice
--- error_code: 200
--- response_headers
X-RateLimit-Remaining: 0
--- no_error_log
[alert]
[crit]



=== TEST 3: after the failover: the count of pin 1 (two before, one after) is on the new master, the fourth resend is refused
--- init
Test::More::is(::wait_count($::Replica, '86000000000000000000000000000001', 3), 3,
               'TEST 3: three admissions of pin 1 on the new master');
--- request
POST /2fa/2/pin/86000000000000000000000000000001/resend/voice
--- error_code: 429
--- error_log eval
qr/\[notice\] .*tfa_resend_limit_zone "ha": the Sentinel at 127\.0\.0\.1:\d+ says \+switch-master "tfa 127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+": connecting to the new master/
--- no_error_log
[alert]
[crit]



=== TEST 4: the master stops: the Sentinels promote the old master (a replica by now); both gateways follow within the stated time; the counts it had are kept
--- init
# the old master must be a replica of the new one, with its data, first
my $synced = 0;
for (1 .. 400) {
    my $role = eval { ::redis($::Master, 'ROLE') } || [];
    $synced = ref $role && $role->[0] eq 'slave'
              && (eval { ::redis($::Master, 'ZCARD', 'tfa:ha:86000000000000000000000000000001') } // 0) == 3;
    last if $synced;
    Time::HiRes::sleep(0.1);
}
Test::More::ok($synced, 'TEST 4: the old master is a replica of the new one, with the counts');
my $t0 = Time::HiRes::time();
::redis_stop($::Replica);
my ($named, $secs, $seen) = ::follow('86000000000000000000000000000002', $::Master, $t0,
                                     '86000000000000000000000000000004');
Test::More::ok(defined $secs && $secs < $::Follow,
               sprintf 'TEST 4: the Sentinels named the new master %.1fs after it stopped; both gateways followed %s (%s)',
               $named, defined $secs ? sprintf('%.1fs later', $secs) : "not within $::Follow s", $seen);
Test::More::unlike($seen, qr/\b200 x/, "TEST 4: pin 2, used up before, never admitted again ($seen)");
Test::More::like($seen, qr/\b200 \(fresh\) x3\b/, "TEST 4: pin 4, new, admitted exactly 3 times across the switch ($seen)");
--- request
POST /2fa/2/pin/86000000000000000000000000000001/resend/voice
--- error_code: 429
--- no_error_log
[alert]
[crit]



=== TEST 5: while the master was away the resends were refused (on_store_error=reject), and the log said why
--- request
POST /2fa/2/pin/86000000000000000000000000000003/resend/voice
--- error_code: 200
--- response_headers
X-RateLimit-Remaining: 2
--- error_log eval
qr/\[error\] .*tfa_resend_limit_zone "ha": redis at [^;]+; on_store_error=reject: resends are refused with 503/
--- no_error_log
[alert]
[crit]
