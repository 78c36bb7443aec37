/* SPDX-License-Identifier: MIT */
/*
 * libpgdax public API.
 */
#ifndef PGDAX_H
#define PGDAX_H

#ifdef __cplusplus
extern "C" {
#endif

#ifndef PGDAX_EXPORT
#define PGDAX_EXPORT __attribute__((visibility("default")))
#endif

/* The library version, "MAJOR.MINOR.PATCH". */
const char *pgdax_version(void);

#ifdef __cplusplus
}
#endif
#endif /* PGDAX_H */
