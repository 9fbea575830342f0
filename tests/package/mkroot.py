#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mkroot.py - a clean Debian root for package_test.sh, made from this host.

usage: mkroot.py ROOT [--also PKG]... DEB...

ROOT (an empty directory) gets what `dpkg --root=ROOT -i DEB...` needs and
nothing else: the packages named by the DEBs' Depends and Pre-Depends and
what dpkg runs their maintainer scripts with (dpkg, dash, coreutils,
init-system-helpers, base-passwd, login) and each --also PKG (package_test.sh
adds systemd: a machine that runs the units has it), with everything these depend on,
each copied from this host's installed files (`dpkg-query -L`) and recorded
in ROOT's dpkg status as installed. So dpkg checks the DEBs' dependencies
against that set, and a library missing from Depends is missing in ROOT.

Why not debootstrap: it downloads a base system from the Debian mirror on
every run, and the tests talk to nothing but loopback. The files copied are
those of the same Debian release the packages were built on.
"""
import os
import re
import stat
import subprocess
import sys

# What maintainer scripts run, Essential packages that no Depends names:
# sh, install, dpkg-statoverride, grep and sed; perl for adduser and
# deb-systemd-helper; /etc/login.defs (login) for useradd; the base passwd
# and group files (base-passwd).
BASE = ["dpkg", "dash", "coreutils", "grep", "sed", "perl-base", "init-system-helpers", "base-passwd",
        "login"]


ARCH = subprocess.run(["dpkg", "--print-architecture"], check=True, capture_output=True,
                      text=True).stdout.strip()


def installed_packages():
    arch = ARCH
    fmt = "${Package}\t${Architecture}\t${db:Status-Abbrev}\t${Provides}\t${Depends}\t${Pre-Depends}\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], check=True, capture_output=True,
                         text=True).stdout
    pkgs, providers = {}, {}
    for line in out.splitlines():
        name, parch, status, provides, depends, predepends = line.split("\t")
        if not status.startswith("ii") or parch not in (arch, "all"):
            continue
        pkgs[name] = ", ".join(d for d in (depends, predepends) if d)
        for p in names(provides):
            providers.setdefault(p, name)
    return pkgs, providers


def names(field):
    """Package names of a comma-separated field, versions and arch qualifiers dropped."""
    return [re.split(r"[\s(:\[]", alt.strip(), maxsplit=1)[0] for alt in field.split(",") if alt.strip()]


def closure(roots, pkgs, providers):
    want, todo = set(), list(roots)
    while todo:
        field = todo.pop()
        for clause in field.split(","):
            if not clause.strip():
                continue
            pick = None
            for alt in names(clause.replace("|", ",")):
                pick = alt if alt in pkgs else providers.get(alt)
                if pick:
                    break
            if not pick:
                sys.exit(f"mkroot: no installed package satisfies '{clause.strip()}'")
            if pick not in want:
                want.add(pick)
                todo.append(pkgs[pick])
    return sorted(want)


def deb_depends(deb):
    out = subprocess.run(["dpkg-deb", "-f", deb, "Depends", "Pre-Depends"], check=True,
                         capture_output=True, text=True).stdout
    return ", ".join(line.split(":", 1)[1] for line in out.splitlines() if ":" in line)


def main():
    args = sys.argv[2:]
    also = []
    while len(args) >= 2 and args[0] == "--also":
        also.append(args[1])
        args = args[2:]
    if len(sys.argv) < 3 or not args:
        sys.exit("usage: mkroot.py ROOT [--also PKG]... DEB...")
    root, debs = sys.argv[1], args
    pkgs, providers = installed_packages()
    want = closure([", ".join(BASE + also)] + [deb_depends(d) for d in debs], pkgs, providers)

    # merged /usr, as a Debian 12 system is: /bin, /sbin, /lib, /lib64 are links
    for d in ("usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc", "var/lib/dpkg/info",
              "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/lib/dpkg/alternatives",
              "var/log", "tmp", "run"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for link in ("bin", "sbin", "lib", "lib64"):
        os.symlink("usr/" + link, os.path.join(root, link))
    # /dev/null, as a container gets: maintainer scripts redirect to it
    os.makedirs(os.path.join(root, "dev"))
    null = os.path.join(root, "dev/null")
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chmod(null, 0o666)

    files = []
    for p in want:
        listed = subprocess.run(["dpkg-query", "-L", p], check=True, capture_output=True,
                                text=True).stdout.splitlines()
        files += [f.lstrip("/") for f in listed
                  if f.startswith("/") and os.path.lexists(f) and (os.path.islink(f) or not os.path.isdir(f))]
    lst = os.path.join(root, "..", "mkroot.files")
    with open(lst, "w") as fh:
        fh.write("\0".join(files))
    tar_out = subprocess.Popen(["tar", "-C", "/", "--null", "--no-recursion", "--ignore-failed-read",
                                "-T", lst, "-cf", "-"], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-C", root, "--keep-directory-symlink", "-xf", "-"], stdin=tar_out.stdout,
                   check=True)
    if tar_out.wait() not in (0, 1):
        sys.exit("mkroot: copying the host's files failed")
    os.unlink(lst)

    # dpkg's database: these packages installed, their file lists, nothing else
    info = os.path.join(root, "var/lib/dpkg")
    with open(os.path.join(info, "status"), "w") as st:
        for p in want:
            st.write(subprocess.run(["dpkg-query", "-s", p], check=True, capture_output=True,
                                    text=True).stdout.rstrip("\n") + "\n\n")
            for suffix in ("", ":" + ARCH):
                src = f"/var/lib/dpkg/info/{p}{suffix}.list"
                if os.path.exists(src):
                    with open(src) as a, open(os.path.join(info, "info", os.path.basename(src)), "w") as b:
                        b.write(a.read())
    for f in ("available", "diversions", "statoverride"):
        open(os.path.join(info, f), "a").close()

    # the accounts of a fresh system: base-passwd's master files, locked
    # passwords in shadow (what base-passwd and shadowconfig make at install)
    etc = os.path.join(root, "etc")
    master = {"passwd": "/usr/share/base-passwd/passwd.master",
              "group": "/usr/share/base-passwd/group.master"}
    for name, src in master.items():
        with open(src) as a:
            text = a.read()
        with open(os.path.join(etc, name), "w") as b:
            b.write(text)
        shadow = "shadow" if name == "passwd" else "gshadow"
        with open(os.path.join(etc, shadow), "w") as b:
            for line in text.splitlines():
                user = line.split(":", 1)[0]
                b.write(f"{user}:*:19000:0:99999:7:::\n" if name == "passwd" else f"{user}:*::\n")
        os.chmod(os.path.join(etc, shadow), 0o640)
    # PAM's common-* files are written by libpam-runtime's postinst
    # (pam-auth-update), not shipped: chfn (adduser --gecos) needs them
    pam = os.path.join(etc, "pam.d")
    os.makedirs(pam, exist_ok=True)
    for name in sorted(os.listdir("/etc/pam.d")):
        if name.startswith("common-"):
            with open(os.path.join("/etc/pam.d", name)) as a, open(os.path.join(pam, name), "w") as b:
                b.write(a.read())
    print(f"mkroot: {len(want)} packages, {len(files)} files: {' '.join(want)}")


if __name__ == "__main__":
    main()
