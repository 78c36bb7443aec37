#!/usr/bin/env python3
# perm_cases.py ROOT: the permission rules, case by case, as root and as
# other users (with and without supplementary groups); one line per case,
# "user/case: ok|ERRNO[ detail]". Run on tmpfs and on pgdaxfs, the outputs
# must be equal (tests/permissions_match_tmpfs_as_every_user.sh).
# Each user gets its own copy of the fixture (the cases change it).
import errno, os, shutil, stat, sys

root = sys.argv[1]
OWNER, MEMBER, NOBODY = 1000, 1001, 65534
SHARED = 2000          # a supplementary group of OWNER and MEMBER
USERS = {              # name: (uid, gid, groups)
    "root": (0, 0, []),
    "owner": (OWNER, OWNER, [SHARED]),
    "member": (MEMBER, MEMBER, [SHARED]),
    "nobody": (NOBODY, NOBODY, []),
}
TRUE = shutil.which("true")

def res(fn):
    try:
        r = fn()
        return "ok" if r is None else "ok " + str(r)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

def mkfile(p, mode, uid=OWNER, gid=OWNER, data=b"data"):
    with open(p, "wb") as f:
        f.write(data)
    os.chown(p, uid, gid)
    os.chmod(p, mode)

def mkprog(p, mode, uid=OWNER, gid=OWNER):
    shutil.copyfile(TRUE, p)
    os.chown(p, uid, gid)
    os.chmod(p, mode)

def mkdir(p, mode, uid=OWNER, gid=OWNER):
    os.mkdir(p)
    os.chown(p, uid, gid)
    os.chmod(p, mode)

def fixture(top):
    mkdir(top, 0o755, 0, 0)
    for name, mode, gid in [("f644", 0o644, OWNER), ("f600", 0o600, OWNER),
                            ("f660g", 0o660, SHARED), ("f606g", 0o606, SHARED),
                            ("f000", 0o000, OWNER), ("f666", 0o666, OWNER),
                            ("suid", 0o4755, SHARED), ("sgid", 0o2775, SHARED),
                            ("suidw", 0o6777, SHARED), ("suidt", 0o6777, SHARED)]:
        mkfile(f"{top}/{name}", mode, OWNER, gid)
    for name, mode, gid in [("x700", 0o700, OWNER), ("x711", 0o711, OWNER),
                            ("x744", 0o744, OWNER), ("x750g", 0o750, SHARED),
                            ("x000", 0o000, OWNER), ("x001", 0o001, OWNER)]:
        mkprog(f"{top}/{name}", mode, OWNER, gid)
    os.setxattr(f"{top}/f644", "user.a", b"1")
    os.setxattr(f"{top}/f644", "trusted.t", b"2")
    os.setxattr(f"{top}/f600", "user.a", b"1")
    os.symlink("f644", f"{top}/lnk")
    # directories: created open, an entry looked up (so the kernel caches
    # it), then closed: the cached entry must not let others through
    for name, mode, gid in [("d700", 0o700, OWNER), ("d711", 0o711, OWNER),
                            ("d744", 0o744, OWNER), ("d770g", 0o770, SHARED),
                            ("d750g", 0o750, SHARED), ("d755", 0o755, OWNER),
                            ("d777", 0o777, OWNER), ("d705", 0o705, SHARED)]:
        mkdir(f"{top}/{name}", 0o755, OWNER, gid)
        mkfile(f"{top}/{name}/in", 0o666, OWNER, gid)
        mkdir(f"{top}/{name}/sub", 0o777, OWNER, gid)
        os.stat(f"{top}/{name}/in")
        os.stat(f"{top}/{name}/nothere") if os.path.exists(f"{top}/{name}/nothere") else None
        os.chmod(f"{top}/{name}", mode)
    mkdir(f"{top}/sticky", 0o1777, 0, 0)
    mkfile(f"{top}/sticky/owners", 0o666, OWNER, OWNER)
    mkfile(f"{top}/sticky/members", 0o666, MEMBER, MEMBER)
    mkdir(f"{top}/sticky/odir", 0o777, OWNER, OWNER)
    mkdir(f"{top}/ostick", 0o1777, OWNER, OWNER)     # sticky, owned by OWNER
    mkfile(f"{top}/ostick/members", 0o666, MEMBER, MEMBER)
    mkdir(f"{top}/sgdir", 0o2777, OWNER, SHARED)
    mkdir(f"{top}/mv", 0o777, OWNER, OWNER)
    mkdir(f"{top}/mv/dir700", 0o700, OWNER, OWNER)   # a dir others cannot write
    mkdir(f"{top}/mv/dirmine", 0o777, OWNER, OWNER)
    mkdir(f"{top}/mv/to", 0o777, OWNER, OWNER)
    mkdir(f"{top}/mv/to755", 0o755, OWNER, OWNER)

def cases(top):
    out = []
    def case(name, fn):
        out.append(f"{name}: {res(fn)}")

    def opener(p, flags):
        def f():
            os.close(os.open(p, flags))
        return f

    def run(p):
        def f():
            pid = os.fork()
            if pid == 0:
                try:
                    os.execv(p, [p])
                except OSError as e:
                    os._exit(100 + e.errno)
            _, st = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(st)
            if code >= 100:
                raise OSError(code - 100, "exec")
        return f

    files = ["f644", "f600", "f660g", "f606g", "f000", "f666", "x700", "x711",
             "x744", "x750g", "x000", "x001"]
    for n in files:
        p = f"{top}/{n}"
        if n.startswith("x"):
            case(f"{n}/exec", run(p))
        case(f"{n}/open_r", opener(p, os.O_RDONLY))
        case(f"{n}/open_w", opener(p, os.O_WRONLY))
        case(f"{n}/open_rw", opener(p, os.O_RDWR))
        case(f"{n}/open_trunc_w", opener(p, os.O_WRONLY | os.O_TRUNC))
        for m, mn in [(os.R_OK, "r"), (os.W_OK, "w"), (os.X_OK, "x"), (os.F_OK, "f")]:
            case(f"{n}/access_{mn}", lambda p=p, m=m: None if os.access(p, m) else
                 (_ for _ in ()).throw(OSError(errno.EACCES, "access")))
    # attributes
    for n in ["f644", "f666", "f000", "f660g"]:
        p = f"{top}/{n}"
        size = os.stat(p).st_size
        case(f"{n}/truncate_same", lambda p=p, s=size: os.truncate(p, s))
        case(f"{n}/utime_now", lambda p=p: os.utime(p))
        case(f"{n}/utime_explicit", lambda p=p: os.utime(p, (1000, 2000)))
        case(f"{n}/utime_now_ns", lambda p=p: os.utime(p, ns=(os.stat(p).st_atime_ns, 5)))
        case(f"{n}/chmod_same", lambda p=p: os.chmod(p, stat.S_IMODE(os.stat(p).st_mode)))
        case(f"{n}/chown_to_me", lambda p=p: os.chown(p, os.geteuid(), -1))
        case(f"{n}/chown_same", lambda p=p: os.chown(p, os.stat(p).st_uid, -1))
        case(f"{n}/chgrp_shared", lambda p=p: os.chown(p, -1, SHARED))
        case(f"{n}/chgrp_nobody", lambda p=p: os.chown(p, -1, NOBODY))
        case(f"{n}/chgrp_same", lambda p=p: os.chown(p, -1, os.stat(p).st_gid))
        case(f"{n}/stat", lambda p=p: "%o %d %d" % (os.stat(p).st_mode, os.stat(p).st_uid,
                                                     os.stat(p).st_gid))
    # chmod g+s: cleared unless the caller is in the file's group
    p = f"{top}/f644"
    case("f644/chmod_gs", lambda: os.chmod(p, 0o2644))
    case("f644/after_chmod_gs", lambda: "%o" % os.stat(p).st_mode)
    case("f660g/chmod_gs", lambda: os.chmod(f"{top}/f660g", 0o2660))
    case("f660g/after_chmod_gs", lambda: "%o" % os.stat(f"{top}/f660g").st_mode)
    # a write by someone else clears setuid (the kernel's SETATTR)
    def write_one(p):
        def f():
            fd = os.open(p, os.O_WRONLY)
            try:
                os.write(fd, b"x")
            finally:
                os.close(fd)
        return f
    for n in ["suid", "sgid", "suidw"]:
        case(f"{n}/open_w_write", write_one(f"{top}/{n}"))
        case(f"{n}/after_write", lambda n=n: "%o" % os.stat(f"{top}/{n}").st_mode)
    case("suidt/truncate", lambda: os.truncate(f"{top}/suidt", 1))
    case("suidt/after_truncate", lambda: "%o" % os.stat(f"{top}/suidt").st_mode)
    # xattrs
    for n in ["f644", "f600", "d755", "lnk", "sticky", "ostick"]:
        p = f"{top}/{n}"
        case(f"{n}/getxattr_user", lambda p=p: os.getxattr(p, "user.a", follow_symlinks=False))
        case(f"{n}/setxattr_user", lambda p=p: os.setxattr(p, "user.b", b"v", follow_symlinks=False))
        case(f"{n}/removexattr_user", lambda p=p: os.removexattr(p, "user.b", follow_symlinks=False))
        case(f"{n}/getxattr_trusted", lambda p=p: os.getxattr(p, "trusted.t", follow_symlinks=False))
        case(f"{n}/setxattr_trusted", lambda p=p: os.setxattr(p, "trusted.u", b"v", follow_symlinks=False))
        case(f"{n}/setxattr_security", lambda p=p: os.setxattr(p, "security.s", b"v", follow_symlinks=False))
        case(f"{n}/getxattr_security", lambda p=p: os.getxattr(p, "security.s", follow_symlinks=False))
        case(f"{n}/listxattr", lambda p=p: sorted(os.listxattr(p, follow_symlinks=False)))
    # directories
    for n in ["d700", "d711", "d744", "d770g", "d750g", "d755", "d777", "d705"]:
        d = f"{top}/{n}"
        case(f"{n}/stat_in", lambda d=d: os.stat(f"{d}/in").st_size)
        case(f"{n}/stat_in_again", lambda d=d: os.stat(f"{d}/in").st_size)
        case(f"{n}/stat_nothere", lambda d=d: os.stat(f"{d}/nothere"))
        case(f"{n}/listdir", lambda d=d: sorted(os.listdir(d)))
        case(f"{n}/chdir", lambda d=d: os.chdir(d))
        os.chdir("/")
        case(f"{n}/open_in", opener(f"{d}/in", os.O_RDONLY))
        case(f"{n}/stat_sub_in", lambda d=d: "%o" % os.stat(f"{d}/sub/.").st_mode)
        case(f"{n}/create", opener(f"{d}/new", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        case(f"{n}/unlink_new", lambda d=d: os.unlink(f"{d}/new"))
        case(f"{n}/mknod_fifo", lambda d=d: os.mkfifo(f"{d}/fifo"))
        case(f"{n}/unlink_fifo", lambda d=d: os.unlink(f"{d}/fifo"))
        case(f"{n}/mkdir", lambda d=d: os.mkdir(f"{d}/nd"))
        case(f"{n}/rmdir", lambda d=d: os.rmdir(f"{d}/nd"))
        case(f"{n}/symlink", lambda d=d: os.symlink("x", f"{d}/sl"))
        case(f"{n}/unlink_sl", lambda d=d: os.unlink(f"{d}/sl"))
        case(f"{n}/link_f666", lambda d=d: os.link(f"{top}/f666", f"{d}/hl"))
        case(f"{n}/unlink_hl", lambda d=d: os.unlink(f"{d}/hl"))
        case(f"{n}/rename_in", lambda d=d: os.rename(f"{d}/in", f"{d}/in2"))
        case(f"{n}/rename_back", lambda d=d: os.rename(f"{d}/in2", f"{d}/in"))
        case(f"{n}/rename_out", lambda d=d: os.rename(f"{d}/in", f"{top}/d777/from_{n}"))
        case(f"{n}/unlink_in", lambda d=d: os.unlink(f"{d}/in"))
    # fs.protected_hardlinks: others may link only what they may read and write
    for n in ["f644", "f666", "suidw", "x744"]:
        case(f"{n}/link_protected", lambda n=n: os.link(f"{top}/{n}", f"{top}/d777/pl_{n}"))
    # sticky directories
    s = f"{top}/sticky"
    case("sticky/unlink_owners", lambda: os.unlink(f"{s}/owners"))
    case("sticky/unlink_members", lambda: os.unlink(f"{s}/members"))
    case("sticky/rename_members", lambda: os.rename(f"{s}/members", f"{s}/m2"))
    case("sticky/rmdir_odir", lambda: os.rmdir(f"{s}/odir"))
    case("sticky/create_mine", opener(f"{s}/mine", os.O_CREAT | os.O_WRONLY))
    case("sticky/unlink_mine", lambda: os.unlink(f"{s}/mine"))
    case("ostick/unlink_members", lambda: os.unlink(f"{top}/ostick/members"))
    case("ostick/setxattr_user_dir", lambda: os.setxattr(f"{top}/ostick", "user.z", b"1"))
    # setgid directory: new entries take its group, subdirectories keep S_ISGID
    g = f"{top}/sgdir"
    case("sgid/create", opener(f"{g}/f", os.O_CREAT | os.O_WRONLY))
    case("sgid/create_stat", lambda: "%o %d" % (os.stat(f"{g}/f").st_mode & 0o7777 | 0, os.stat(f"{g}/f").st_gid))
    case("sgid/mkdir", lambda: os.mkdir(f"{g}/sd", 0o775))
    case("sgid/mkdir_stat", lambda: "%o %d" % (os.stat(f"{g}/sd").st_mode, os.stat(f"{g}/sd").st_gid))
    case("sgid/create_gs", opener(f"{g}/gs", os.O_CREAT | os.O_WRONLY))
    case("sgid/chmod_gs", lambda: os.chmod(f"{g}/gs", 0o2770))
    case("sgid/gs_stat", lambda: "%o" % os.stat(f"{g}/gs").st_mode)
    # directory moves: a directory changing parent needs write on itself
    m = f"{top}/mv"
    case("mv/dir700_to", lambda: os.rename(f"{m}/dir700", f"{m}/to/dir700"))
    case("mv/dir700_same_parent", lambda: os.rename(f"{m}/dir700", f"{m}/dir700b"))
    case("mv/dirmine_to", lambda: os.rename(f"{m}/dirmine", f"{m}/to/dirmine"))
    case("mv/into_to755", lambda: os.rename(f"{m}/to", f"{m}/to755/to"))
    return out

def as_user(name, top):
    uid, gid, groups = USERS[name]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups(groups)
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            os.umask(0o022)
            lines = cases(top)
        except Exception as e:
            lines = [f"SETUP-FAILED {e!r}"]
        os.write(w, ("\n".join(f"{name}/{l}" for l in lines) + "\n").encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        data += b
    os.waitpid(pid, 0)
    sys.stdout.write(data.decode())

os.umask(0)
for name in USERS:
    fixture(f"{root}/{name}")
    as_user(name, f"{root}/{name}")
