#ifndef FLEET_CSQLITE_H
#define FLEET_CSQLITE_H

/* The system's SQLite (libsqlite3-dev), used by the embedded store. */
#include <sqlite3.h>

/* SQLITE_TRANSIENT is a macro casting -1 to a function pointer, which Swift cannot import.
 * Binding with it makes SQLite copy the bytes at once, so a Swift string's temporary
 * UTF-8 buffer may go away as soon as the bind call returns. */
static inline int CSQLite_bind_text_transient(sqlite3_stmt *_Nonnull statement, int column,
                                              const char *_Nonnull text, int length) {
    return sqlite3_bind_text(statement, column, text, length, SQLITE_TRANSIENT);
}

#endif
