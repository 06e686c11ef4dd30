/* SPDX-License-Identifier: MIT */
/*
 * mnsim.h - the whole public API of libmnsim: the Linux KVM MMU-notifier / invalidation
 * protocol, run deterministically in userspace.
 */
#ifndef MNSIM_H
#define MNSIM_H

#include <mnsim/types.h>
#include <mnsim/alloc.h>
#include <mnsim/itree.h>
#include <mnsim/trace.h>
#include <mnsim/phys.h>
#include <mnsim/sim.h>
#include <mnsim/lock.h>
#include <mnsim/explore.h>
#include <mnsim/pte.h>
#include <mnsim/pt.h>
#include <mnsim/notifier.h>
#include <mnsim/host.h>
#include <mnsim/kvm.h>
#include <mnsim/gpc.h>
#include <mnsim/gmem.h>
#include <mnsim/check.h>
#include <mnsim/builtin.h>
#include <mnsim/scenario.h>

#endif /* MNSIM_H */
