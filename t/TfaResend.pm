package TfaResend;

# Helpers shared by the t/*.t files that Test::Nginx has no section for.
#
# Configuration errors: nginx reports an [emerg] met while parsing its
# configuration on its startup log, which for Debian's nginx is stderr
# (--error-log-path=stderr), not the test's logs/error.log; so Test::Nginx's
# error_log section cannot see it under either runner.  nginx_t() runs
# `nginx -t` on a configuration built like Test::Nginx builds one and
# returns what nginx printed.

use strict;
use warnings;

use File::Temp qw(tempdir);
use Time::HiRes ();
use Exporter 'import';

our @EXPORT = qw(nginx_t);
our @EXPORT_OK = qw(reload_nginx edit_conf);


sub nginx_t {
    my ($http, %opt) = @_;

    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $dir = tempdir(CLEANUP => 1);

    mkdir "$dir/logs";
    mkdir "$dir/conf";

    my $conf = '';

    for my $m (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '') {
        $conf .= "load_module $m;\n";
    }

    $conf .= "error_log logs/error.log debug;\n"
             . "pid logs/nginx.pid;\n"
             . ($opt{main} // '')
             . "\nevents { worker_connections 64; }\n"
             . "http {\n"
             . "    client_body_temp_path $dir/cbt;\n"
             . "    proxy_temp_path $dir/pt;\n"
             . "    fastcgi_temp_path $dir/ft;\n"
             . "    uwsgi_temp_path $dir/ut;\n"
             . "    scgi_temp_path $dir/st;\n"
             . "$http\n}\n";

    open my $fh, '>', "$dir/conf/nginx.conf" or die "nginx.conf: $!";
    print $fh $conf;
    close $fh;

    my $out = `$nginx -t -p $dir/ -c conf/nginx.conf 2>&1`;
    my $rc = $? >> 8;

    if (-s "$dir/logs/error.log") {
        open my $log, '<', "$dir/logs/error.log" or die "error.log: $!";
        local $/;
        $out .= <$log>;
        close $log;
    }

    return wantarray ? ($rc, $out) : $out;
}


# A reload of the running test server (`nginx -s reload`, as SIGHUP), for
# the blocks that go on without --- config: edit_conf() changes its
# nginx.conf, reload_nginx() waits until as many new workers as there were
# old ones run and none of the old (or, with $fails, until the reload has
# been refused with an [emerg]).

sub nginx_workers {
    my $master = shift;
    my @w;

    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $l = <$fh> // '';
        close $fh;
        push @w, $1 if $l =~ /^(\d+) \(.*\) (\S) (\d+) / && $3 == $master
                       && $2 ne 'Z';
    }

    return @w;
}

sub reload_nginx {
    my $fails = shift;

    my $root = Test::Nginx::Util::server_root();
    my $log = "$root/logs/error.log";
    my $pos = -s $log;

    open my $fh, '<', "$root/logs/nginx.pid" or die "pid: $!";
    my $master = <$fh>;
    close $fh;
    chomp $master;

    my %old = map { $_ => 1 } nginx_workers($master);
    my $n = keys %old;

    kill 'HUP', $master or die "HUP $master: $!";

    for (1 .. 200) {
        Time::HiRes::sleep(0.05);

        if ($fails) {
            open my $in, '<', $log or die "error.log: $!";
            seek $in, $pos, 0;
            local $/;
            my $new = <$in> // '';
            close $in;
            return if $new =~ /\[emerg\]/;

        } else {
            my @w = nginx_workers($master);
            return if @w == $n && !grep { $old{$_} } @w;
        }
    }

    die "reload: no " . ($fails ? '[emerg]' : 'new workers') . " in 10s";
}

sub edit_conf {
    my ($from, $to) = @_;
    my $conf = Test::Nginx::Util::server_root() . '/conf/nginx.conf';

    open my $in, '<', $conf or die "$conf: $!";
    local $/;
    my $text = <$in>;
    close $in;

    $text =~ s/\Q$from\E/$to/g or die "edit_conf: no \"$from\"";

    open my $out, '>', $conf or die "$conf: $!";
    print $out $text;
    close $out;
}


1;
