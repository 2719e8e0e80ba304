/* A byte budget on what a driver may read from one socket, on the calling thread.
 * libpq reads a whole DataRow (however large) into its buffer before any cap can look at
 * it; with a budget set around PQconsumeInput, reads past the budget return EAGAIN and
 * the caller drops the session instead of receiving the rest. */
#ifndef CB_RECV_BUDGET_H
#define CB_RECV_BUDGET_H
#include <stddef.h>

/* Starts counting reads on fd (this thread only); at most `left` more bytes are read. */
void recv_budget_begin(int fd, size_t left);
/* Stops; returns the bytes read since recv_budget_begin. */
size_t recv_budget_end(void);

#endif
