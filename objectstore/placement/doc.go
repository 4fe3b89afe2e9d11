// Package placement decides which disks hold an S3 object's erasure set:
// the default erasure scheme for a disk map, checks of per-bucket and
// storage-class overrides against the map, the disks of a new object's set
// in shard order, where to look for an existing object's metadata, and what
// the healer must move after the map changes. It is pure: no I/O, no clock,
// no randomness, and the same answer on every box and architecture.
//
// # The rule
//
// A failure domain is a box when the map has two or more boxes, and a disk
// when it has one box (a lone box cannot survive its own loss). An object
// never has more shards in one failure domain than it has parity shards, so
// losing any one domain loses no object; the round-robin deal below
// spreads a set as evenly as the boxes allow, and Tolerance reports how many
// whole boxes (LostBoxes) and disks (LostDisks) a scheme survives on a map
// and how many may be down while writes still reach erasure's write quorum
// (DownBoxes, DownDisks). The only scheme without parity is 1+0 on a map of
// one disk. CheckScheme applies the rule to overrides; a *FitError says what
// breaks it and what would fit.
//
// # Default schemes
//
// ChooseScheme counts the failure domains F among disks that take new
// shards (Online and Offline: a box that is down for a reboot does not
// change the scheme of new objects) and picks:
//
//	F (boxes, or disks on one box)   scheme   overhead  survives
//	1                                 1+0      1x        nothing
//	2                                 1+1      2x        1 domain
//	3                                 2+1      1.5x      1 domain
//	4                                 2+2      2x        2 domains
//	5                                 3+2      1.67x     2 domains
//	6-11                              4+2      1.5x      2 domains
//	12 or more                        8+4      1.5x      4 domains
//
// then, on two or more boxes, doubles the stripe to 2k+2m when that is at
// most 12 shards and the set fits with two shards per box (2 boxes of 2+
// disks each: 2+2; 3 boxes: 4+2; 4: 4+4; 5: 6+4; 6-11 boxes on which 12
// shards fit two per box: 8+4). Doubling keeps the overhead and the number of boxes survived, and
// doubles the disks survived: 1+1 over two boxes loses the objects shared by
// any two failed disks on different boxes, and with one disk down cannot
// reach its write quorum of 2 for the objects on it, while 2+2 survives any
// two disks and writes with one down. The price is twice the files per
// object, which is why the stripe stops at 12.
//
// Why these: 3 boxes take 2+1 rather than 1+2 because Raft on 3 boxes
// survives only one box anyway, and 1+2 would triple the bytes. From 4
// domains on, m = 2 keeps one shard of redundancy while a domain is down
// for maintenance, so a disk failing during a reboot loses nothing; 4
// domains take 2+2 rather than 3+1 for that reason, and on a single box of
// 4 disks also because its repair window is human (a disk must be bought
// and fitted: with n equal to the disk count there is no spare disk to heal
// onto). 4+2 and 8+4 keep the overhead at 1.5x; 8+4 is used once 12 domains
// can each take one shard, surviving four. The block size is
// erasure.DefaultBlockSize.
//
// Overrides: a bucket may carry an operator-chosen scheme (ParseScheme,
// checked by CheckScheme when set and again by SchemeFor at every write, so
// a map that shrank fails writes with a *FitError instead of silently
// weakening them). ParseStorageClass accepts the classes AWS accepts on a
// general purpose bucket; REDUCED_REDUNDANCY keeps the set size and splits
// it (n-1)+1 when that fits, every other class is stored like STANDARD.
//
// # Placement
//
// Place picks an object's set by rendezvous (highest random weight)
// hashing over the disk map: the object's name is hashed once with
// HighwayHash-64 under a fixed key, each disk's ID once per map, and each
// disk draws mix(name, disk). Disks with different Weight are compared by
// weighted rendezvous scores w/-log2(draw), computed in fixed point so every
// architecture agrees. Each box ranks its disks by score, the boxes are
// ranked by their best disk (so a box is picked in proportion to its total
// weight), and disks are dealt round-robin over the boxes: every box's best
// disk in box order, then every box's second best, and so on. The set of n
// shards is the first n disks dealt and shard i goes to the i-th.
//
// Consequences: no box gets more than one shard more than another unless it
// runs out of disks; the order does not depend on n, so sets of every size
// are prefixes of one list; adding or removing one disk changes at most one
// disk of any object's set, and only as many objects as that disk's share
// of shards (n/N of them for N disks when boxes do not constrain the set);
// Offline disks stay in every set they belong to, so a disk that blips
// moves nothing; Draining and Removed disks take no new shards.
//
// # Objects written under older maps
//
// The placement of an object is decided once, when it is written: the
// writer records the scheme and the disk ID of every shard in the object's
// metadata, and reads, heals and deletes use that record, never a fresh
// placement. Placement is needed again only to find the metadata. Candidates
// lists the disks to ask, most likely first: the set under the current map,
// the set before draining disks began to drain, and the same under each
// older map passed in. The object layer passes every map version whose
// rebalance has not finished; once the healer has walked every object after
// a map change, that version is no longer needed.
//
// Rebalance and heal after a map change: when SamePlacement is true (only
// Online/Offline flips) nothing moves. Otherwise the healer walks objects;
// Changed says cheaply whether an object's set moved, Moves lists the shards
// to copy (From is readable) or rebuild (it is not) onto the disks of the
// new set, keeping every shard that is already on one, and the healer then
// rewrites the object's metadata with the new disk IDs. Moves off Draining
// and Removed disks restore redundancy and come first; moves off Online
// disks only spread load onto disks that joined. An object whose recorded
// scheme no longer fits the map (a box went away for good) gets a
// *FitError and must be re-encoded with the scheme SchemeFor now gives.
//
// # Format
//
// The hash keys, the framing of the hashed name, mix, the fixed-point
// logarithm and the deal decide where existing objects are looked for; a
// change to any of them strands every object until it is rebalanced.
// golden_test.go pins them.
package placement
