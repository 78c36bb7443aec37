/* SPDX-License-Identifier: MIT */
/*
 * DAX pin ioctls and poll (DESIGN.md section 5) on files of the mount.
 * Owned by the client/pin work: until it lands, fs_ioctl answers ENOTTY to
 * every command and fs_poll ENOSYS (the kernel then stops asking and reports
 * the default poll mask).
 */
#ifndef PGDAX_FS_IOCTL_H
#define PGDAX_FS_IOCTL_H

#include <fuse_lowlevel.h>

void fs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	      struct fuse_file_info *fi, unsigned flags, const void *in_buf,
	      size_t in_bufsz, size_t out_bufsz);
void fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	     struct fuse_pollhandle *ph);

#endif /* PGDAX_FS_IOCTL_H */
