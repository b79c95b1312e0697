package image

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// The multitool's layer over the machine's root, in the shape of
// wbitt/network-multitool: ENTRYPOINT ["/bin/sh", "/docker/entrypoint.sh"],
// CMD ["nginx", "-g", "daemon off;"]. The entrypoint writes the page that
// names the container, honours HTTP_PORT and HTTPS_PORT as the real one
// does, and execs the command, so nginx (or the run line's command) is
// PID 1.
const multitoolEntrypoint = `#!/bin/sh
# nslab's multitool entrypoint, shaped like wbitt/network-multitool's:
# HTTP_PORT and HTTPS_PORT replace nginx's default ports 80 and 443.
if [ -n "${HTTP_PORT}" ]; then
  echo "Replacing default HTTP port (80) with the value specified by the user - (HTTP_PORT: ${HTTP_PORT})."
  sed -i "s/listen 80;/listen ${HTTP_PORT};/" /etc/nginx/conf.d/default.conf
fi
if [ -n "${HTTPS_PORT}" ]; then
  echo "Replacing default HTTPS port (443) with the value specified by the user - (HTTPS_PORT: ${HTTPS_PORT})."
  sed -i "s/listen 443 ssl;/listen ${HTTPS_PORT} ssl;/" /etc/nginx/conf.d/default.conf
fi
echo "WBITT Network MultiTool (with NGINX) - $(hostname) - $(hostname -i 2>/dev/null) - HTTP: ${HTTP_PORT:-80} , HTTPS: ${HTTPS_PORT:-443} . (Formerly praqma/network-multitool)" > /usr/share/nginx/html/index.html
# Execute the command given as CMD, or on the run line:
exec "$@"
`

// Debian's nginx, configured as the real image's: one worker, logs to the
// container's output, the site in conf.d. Debian's own nginx.conf would also
// pull in sites-enabled (with a [::]:80 listener the notes do not show).
const multitoolNginxConf = `# nslab multitool: Debian's nginx, set up as wbitt/network-multitool's.
user www-data;
worker_processes 1;
pid /run/nginx.pid;
error_log /dev/stderr warn;
events {
  worker_connections 1024;
}
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log /dev/stdout;
  sendfile on;
  keepalive_timeout 65;
  include /etc/nginx/conf.d/*.conf;
}
`

const multitoolSite = `server {
  listen 80;
  listen 443 ssl;
  server_name localhost;
  ssl_certificate /certs/server.crt;
  ssl_certificate_key /certs/server.key;
  location / {
    root /usr/share/nginx/html;
    index index.html index.htm;
  }
}
`

func buildMultitool(dir string) error {
	if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
		return fmt.Errorf("nginx not found: install Debian's nginx-light (scripts/provision.sh does): %w", err)
	}
	crt, key, err := selfSigned()
	if err != nil {
		return fmt.Errorf("self-signed certificate: %w", err)
	}
	if err := writeFiles(dir, map[string]string{
		"docker/entrypoint.sh":          multitoolEntrypoint,
		"etc/nginx/nginx.conf":          multitoolNginxConf,
		"etc/nginx/conf.d/default.conf": multitoolSite,
		"certs/server.crt":              crt,
		"usr/share/nginx/html/.keep":    "",
	}, 0o644); err != nil {
		return err
	}
	if err := writeFiles(dir, map[string]string{"certs/server.key": key}, 0o600); err != nil {
		return err
	}
	return os.Chmod(filepath.Join(dir, "docker/entrypoint.sh"), 0o755)
}

// selfSigned makes the multitool's certificate, as the real image ships
// one. It is derived from a fixed seed (Ed25519 signatures are
// deterministic), so the image's files, and so its ID, stay the same.
func selfSigned() (crt, key string, err error) {
	seed := sha256.Sum256([]byte("nslab multitool self-signed certificate"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"nslab multitool (self-signed)"}},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC),
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return "", "", err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})), nil
}

// The mysql stand-in's entrypoint keeps the official image's shape
// (docker-entrypoint.sh, CMD mysqld, an option as first argument means
// mysqld) and its refusal, word for word, when no root password option is
// set. Its log lines say it is a stand-in.
const mysqlEntrypoint = `#!/bin/sh
# nslab's stand-in for the official mysql image's docker-entrypoint.sh.
mysql_log() {
  printf '%s [%s] [Entrypoint]: %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S+00:00')" "$1" "$2"
}
if [ "${1#-}" != "$1" ]; then
  set -- mysqld "$@"
fi
if [ "$1" = mysqld ]; then
  mysql_log Note "Entrypoint script for MySQL Server (nslab stand-in: this is not MySQL) started."
  if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ] && [ -z "$MYSQL_RANDOM_ROOT_PASSWORD" ]; then
    mysql_log ERROR "Database is uninitialized and password option is not specified
    You need to specify one of the following as an environment variable:
    - MYSQL_ROOT_PASSWORD
    - MYSQL_ALLOW_EMPTY_PASSWORD
    - MYSQL_RANDOM_ROOT_PASSWORD" >&2
    exit 1
  fi
fi
exec "$@"
`

// mysqld listens where MySQL does, 3306 (classic protocol) and 33060 (X
// protocol), with busybox nc, one child per connection. It speaks no MySQL
// protocol: each connection gets one line saying so.
const mysqlServer = `#!/bin/sh
# nslab's stand-in for mysqld: not MySQL.
echo "nslab mysql stand-in: this is not MySQL. Listening on 3306 and 33060; each connection gets one line saying so."
nc -ll -p 3306 -e /usr/local/lib/nslab/mysql-reply &
classic=$!
nc -ll -p 33060 -e /usr/local/lib/nslab/mysql-reply &
x=$!
trap 'kill $classic $x; exit 0' TERM INT
echo "nslab mysql stand-in: ready for connections. port: 3306 and 33060"
wait
`

const mysqlReply = `#!/bin/sh
echo "nslab mysql stand-in: this is not MySQL and speaks no MySQL protocol."
`

func buildMySQL(dir string) error {
	if err := buildBusybox(dir); err != nil {
		return err
	}
	if err := writeFiles(dir, map[string]string{
		"usr/local/bin/docker-entrypoint.sh": mysqlEntrypoint,
		"usr/sbin/mysqld":                    mysqlServer,
		"usr/local/lib/nslab/mysql-reply":    mysqlReply,
	}, 0o755); err != nil {
		return err
	}
	return writeFiles(dir, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nmysql:x:999:999::/var/lib/mysql:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
		"etc/group":  "root:x:0:\nmysql:x:999:\nnogroup:x:65534:\n",
	}, 0o644)
}
