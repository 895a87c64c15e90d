"""docker-py (Debian's python3-docker) against the daemon at DOCKER_HOST.

Uses only the busybox:latest image the test fixture imported; pulls nothing. Every container,
network, volume and image it makes is named with a random suffix and removed at the end, also
after a failure. Prints "docker-py: ok" when every check passed; any failure raises.
"""
import io
import json
import os
import tarfile
import time
import uuid

import docker

SUFFIX = uuid.uuid4().hex[:8]
client = docker.from_env(version="auto", timeout=60)
made_containers, made_networks, made_volumes, made_images = [], [], [], []


def name(prefix):
    return f"py-{prefix}-{SUFFIX}"


def run(prefix, command, **kwargs):
    c = client.containers.run("busybox", command, name=name(prefix), detach=True, **kwargs)
    made_containers.append(c)
    return c


def check_run_logs_wait():
    c = run("logs", ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert c.wait(timeout=30)["StatusCode"] == 3
    assert c.logs(stdout=True, stderr=False) == b"out\n", c.logs()
    assert c.logs(stdout=False, stderr=True) == b"err\n"
    c.reload()
    assert c.status == "exited", c.status
    assert c.attrs["State"]["ExitCode"] == 3


def check_exec_and_attach():
    c = run("exec", ["sleep", "300"])
    result = c.exec_run(["sh", "-c", "echo from-exec; exit 4"])
    assert result.exit_code == 4, result
    assert result.output == b"from-exec\n", result.output
    out, err = c.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True).output
    assert (out, err) == (b"o\n", b"e\n"), (out, err)
    chunks = c.exec_run(["sh", "-c", "for i in 1 2 3; do echo $i; done"], stream=True).output
    assert b"".join(chunks) == b"1\n2\n3\n"

    talker = run("attach", ["sh", "-c", "sleep 1; for i in 1 2 3; do echo line$i; sleep 0.2; done"])
    streamed = b"".join(talker.attach(stdout=True, stderr=True, stream=True, logs=True))
    assert streamed == b"line1\nline2\nline3\n", streamed
    assert talker.wait(timeout=30)["StatusCode"] == 0


def check_archives():
    c = run("archive", ["sleep", "300"])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"from docker-py\n"
        info = tarfile.TarInfo("put.txt")
        info.size = len(data)
        info.mode = 0o640
        tar.addfile(info, io.BytesIO(data))
    assert c.put_archive("/tmp", buf.getvalue())
    assert c.exec_run(["cat", "/tmp/put.txt"]).output == b"from docker-py\n"
    stream, stat = c.get_archive("/tmp/put.txt")
    assert stat["name"] == "put.txt" and stat["size"] == 15, stat
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.getmember("put.txt")
        assert member.mode & 0o777 == 0o640, oct(member.mode)
        assert tar.extractfile(member).read() == b"from docker-py\n"


def check_stats():
    c = run("stats", ["sh", "-c", "while :; do :; done"], mem_limit="64m")
    stats = c.stats(stream=False)
    assert stats["memory_stats"]["limit"] == 64 * 1024 * 1024, stats["memory_stats"]
    assert stats["memory_stats"]["usage"] > 0
    assert stats["cpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert stats["pids_stats"]["current"] >= 1
    first = next(c.stats(stream=True, decode=True))
    assert "cpu_stats" in first and "precpu_stats" in first


def check_networks_and_volumes():
    net = client.networks.create(name("net"), driver="bridge")
    made_networks.append(net)
    assert client.networks.get(net.id).name == name("net")
    assert any(n.id == net.id for n in client.networks.list(names=[name("net")]))
    vol = client.volumes.create(name("vol"), labels={"made-by": "docker-py"})
    made_volumes.append(vol)
    assert client.volumes.get(name("vol")).attrs["Labels"] == {"made-by": "docker-py"}
    c = run("netvol", ["sh", "-c", "echo kept > /data/f; sleep 300"], network=name("net"),
            volumes={name("vol"): {"bind": "/data", "mode": "rw"}})
    net.reload()
    assert c.id in [x.id for x in net.containers], net.attrs
    deadline = time.time() + 15
    while c.exec_run(["cat", "/data/f"]).output != b"kept\n":
        assert time.time() < deadline, "volume content never appeared"
        time.sleep(0.1)
    reader = client.containers.run("busybox", ["cat", "/data/f"], name=name("reader"),
                                   volumes={name("vol"): {"bind": "/data", "mode": "ro"}}, remove=True)
    assert reader == b"kept\n", reader
    c.remove(force=True)
    made_containers.remove(c)
    net.remove()
    made_networks.remove(net)
    vol.remove()
    made_volumes.remove(vol)
    assert name("vol") not in [v.name for v in client.volumes.list()]


def check_images_and_build():
    image = client.images.get("busybox:latest")
    assert "busybox:latest" in image.tags, image.tags
    assert any(i.id == image.id for i in client.images.list())
    saved = io.BytesIO(b"".join(image.save(named=True)))
    with tarfile.open(fileobj=saved) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == ["busybox:latest"], manifest
    dockerfile = io.BytesIO(b"FROM busybox\nRUN echo built > /built\nCMD [\"cat\", \"/built\"]\n")
    tag = f"py-built-{SUFFIX}:1"
    built, logs = client.images.build(fileobj=dockerfile, tag=tag, rm=True)
    made_images.append(tag)
    assert tag in built.tags, built.tags
    assert any("Successfully built" in entry.get("stream", "") for entry in logs)
    output = client.containers.run(tag, name=name("built"), remove=True)
    assert output == b"built\n", output


def cleanup():
    for c in made_containers:
        try:
            c.remove(force=True)
        except docker.errors.APIError:
            pass
    for n in made_networks:
        try:
            n.remove()
        except docker.errors.APIError:
            pass
    for v in made_volumes:
        try:
            v.remove(force=True)
        except docker.errors.APIError:
            pass
    for i in made_images:
        try:
            client.images.remove(i, force=True)
        except docker.errors.APIError:
            pass


try:
    assert client.ping()
    assert client.version()["ApiVersion"]
    for check in (check_run_logs_wait, check_exec_and_attach, check_archives, check_stats,
                  check_networks_and_volumes, check_images_and_build):
        check()
        print(f"{check.__name__}: ok", flush=True)
finally:
    cleanup()
print("docker-py: ok")
