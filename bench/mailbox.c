/* SPDX-License-Identifier: MIT */
/*
 * mailbox.c - the in-process network of the benchmarks (see mailbox.h).
 *
 * A mutex-protected singly linked list with a tail pointer. The owner swaps
 * the whole list out under the lock and works on it unlocked, so producers
 * wait at most for a pointer swap. A push signals the condvar only while the
 * owner sleeps: under load the owner rarely does, and the signal is skipped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mailbox.h"

struct mail *mail_new(size_t len)
{
	struct mail *m = malloc(sizeof(*m) + len);
	if (m) {
		m->next = NULL;
		m->len = len;
	}
	return m;
}

void mail_free_list(struct mail *m)
{
	while (m) {
		struct mail *next = m->next;
		free(m);
		m = next;
	}
}

int mailbox_init(struct mailbox *mb)
{
	pthread_condattr_t attr;

	memset(mb, 0, sizeof(*mb));
	mb->tail = &mb->head;
	if (pthread_condattr_init(&attr) != 0)
		return -1;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(&mb->cv, &attr);
	pthread_condattr_destroy(&attr);
	if (rc != 0)
		return -1;
	if (pthread_mutex_init(&mb->mu, NULL) != 0) {
		pthread_cond_destroy(&mb->cv);
		return -1;
	}
	return 0;
}

void mailbox_destroy(struct mailbox *mb)
{
	mail_free_list(mb->head);
	mb->head = NULL;
	pthread_cond_destroy(&mb->cv);
	pthread_mutex_destroy(&mb->mu);
}

bool mailbox_push(struct mailbox *mb, struct mail *m)
{
	bool ok = true;

	m->next = NULL;
	pthread_mutex_lock(&mb->mu);
	if (mb->bytes + m->len > MAILBOX_MAX_BYTES) {
		ok = false;
	} else {
		*mb->tail = m;
		mb->tail = &m->next;
		mb->bytes += m->len;
		if (mb->bytes > mb->max_bytes)
			mb->max_bytes = mb->bytes;
		if (mb->waiting)
			pthread_cond_signal(&mb->cv);
	}
	pthread_mutex_unlock(&mb->mu);
	if (!ok)
		free(m);
	return ok;
}

void mailbox_wake(struct mailbox *mb)
{
	pthread_mutex_lock(&mb->mu);
	mb->woken = true;
	pthread_cond_signal(&mb->cv);
	pthread_mutex_unlock(&mb->mu);
}

struct mail *mailbox_take(struct mailbox *mb, bool block, uint64_t deadline_ns)
{
	pthread_mutex_lock(&mb->mu);
	if (block && !mb->head && !mb->woken) {
		struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
				      .tv_nsec = (long)(deadline_ns % 1000000000u)};
		mb->waiting = true;
		while (!mb->head && !mb->woken) {
			if (deadline_ns == 0)
				pthread_cond_wait(&mb->cv, &mb->mu);
			else if (pthread_cond_timedwait(&mb->cv, &mb->mu, &ts) == ETIMEDOUT)
				break;
		}
		mb->waiting = false;
	}
	struct mail *list = mb->head;
	mb->head = NULL;
	mb->tail = &mb->head;
	mb->bytes = 0;
	mb->woken = false;
	pthread_mutex_unlock(&mb->mu);
	return list;
}

size_t mailbox_max_bytes(struct mailbox *mb)
{
	pthread_mutex_lock(&mb->mu);
	size_t n = mb->max_bytes;
	pthread_mutex_unlock(&mb->mu);
	return n;
}
