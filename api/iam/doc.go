// Package iam is the IAM front end: it serves IAM's API actions (users, access keys,
// groups, roles, managed and inline policies, instance profiles, login profiles, tags
// and the account summary) with AWS's semantics, shapes and errors, over the IAM state
// kept in cluster/state.
//
// Every action first brings the local replica up to the leader's commit index
// (ReadBarrier), so that what it reads there is as of the call, whichever box answers
// it. Every mutating action reads the entities it changes from that replica, computes
// their new versions and submits one atomic state.IAMWrite whose expected indexes are
// the ones it read; a write built from a stale read fails with a conflict and is rebuilt
// from a fresh read. Relations that live on one side only (a user's groups, a role's
// instance profiles, a principal's boundary policy) are guarded by also rewriting the
// other side unchanged ("touching" it), so that a concurrent delete of that side fails
// its compare-and-set instead of leaving a dangling reference.
//
// A tenant only ever sees and changes its own account: every handler works in the
// caller's account, and authorizes the action on the resource's ARN before acting.
package iam
