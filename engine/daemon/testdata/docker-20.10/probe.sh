# How containers.json and networks.json were recorded: the machine's dockerd
# (Debian docker.io 20.10.24+dfsg1, API 1.41) in a Docker-engine lab host, on
# 2026-11-23: go run ./engine/cmd/nslab sandbox --engine docker -- sh probe.sh docker
# (O is where the JSON goes), then each object keyed by its name.
set -e
O=/tmp/insp3/$1; mkdir -p $O
docker network create --subnet 10.20.0.0/24 mynet >/dev/null
docker network create othernet >/dev/null
docker run -d --name plain busybox sleep 1000 >/dev/null
docker run -d --name onnet --network mynet --ip 10.20.0.5 -p 8080:80 busybox sleep 1000 >/dev/null
docker run -d --name aliased --network mynet --network-alias www --hostname foo busybox sleep 1000 >/dev/null
docker run -d --name explicit --network bridge --expose 80 busybox sleep 1000 >/dev/null
docker network connect --ip 10.20.0.9 --alias extra mynet explicit
docker run -d --name hostrun --network host busybox sleep 1000 >/dev/null
docker run -d --name hoststop --network host busybox sleep 1000 >/dev/null
docker run -d --name nonerun --network none busybox sleep 1000 >/dev/null
docker run -d --name shared --network container:nonerun busybox sleep 1000 >/dev/null
docker run -d --name stopped busybox sleep 1000 >/dev/null
docker run -d --name pubstop --network othernet -p 8082:80 busybox sleep 1000 >/dev/null
docker run --name attached busybox true >/dev/null
docker run -i --name interactive busybox true </dev/null >/dev/null
docker stop -t 0 hoststop stopped pubstop >/dev/null
for c in plain onnet aliased explicit hostrun hoststop nonerun shared stopped pubstop attached interactive; do docker inspect $c > $O/$c.json; done
for n in bridge mynet othernet host none; do docker network inspect $n > $O/net-$n.json; done
docker version -f '{{.Server.Version}} API {{.Server.APIVersion}}' > $O/version
