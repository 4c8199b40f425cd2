// Schema history. Append only: a released migration is never edited, since
// gateways in the field have already run it.

export const MIGRATIONS: readonly string[] = [
  // 1: slivers with desired and observed state, their port forwards, an event log.
  `
  CREATE TABLE slivers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    slice       TEXT NOT NULL,
    template    TEXT NOT NULL,
    cpu         REAL NOT NULL,
    memory_mb   INTEGER NOT NULL,
    disk_mb     INTEGER NOT NULL,
    pids        INTEGER NOT NULL,
    desired     TEXT NOT NULL CHECK (desired IN ('running','stopped','gone')),
    observed    TEXT NOT NULL CHECK (observed IN ('requested','creating','running','stopped','destroying','gone','failed')),
    reason      TEXT,
    address     TEXT UNIQUE,
    failures    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  );
  CREATE TABLE forwards (
    proto       TEXT NOT NULL CHECK (proto IN ('tcp','udp')),
    host_port   INTEGER NOT NULL,
    sliver_id   TEXT NOT NULL REFERENCES slivers(id) ON DELETE CASCADE,
    port        INTEGER NOT NULL,
    PRIMARY KEY (proto, host_port)
  );
  CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    sliver_id   TEXT,
    type        TEXT NOT NULL,
    detail      TEXT NOT NULL
  );
  `,
  // 2: revoked gateways, by identity fingerprint; their peer calls are refused.
  `
  CREATE TABLE revocations (
    id          TEXT PRIMARY KEY,
    name        TEXT,
    at          TEXT NOT NULL
  );
  `,
  // 3: slices hosted here. A sliver of a community slice names the user it
  // belongs to; a lease holds resources for an entry gateway until it commits
  // or the lease lapses; a slice record keeps the user's signed spec, where
  // its slivers are, and a tombstone once the user deleted it.
  `
  ALTER TABLE slivers ADD COLUMN slice_user TEXT;
  ALTER TABLE slivers ADD COLUMN slice_index INTEGER;
  CREATE TABLE leases (
    id          TEXT PRIMARY KEY,
    slice       TEXT NOT NULL,
    slice_user  TEXT NOT NULL,
    slice_index INTEGER NOT NULL,
    cpu         REAL NOT NULL,
    memory_mb   INTEGER NOT NULL,
    disk_mb     INTEGER NOT NULL,
    holder      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    UNIQUE (slice_user, slice, slice_index)
  );
  CREATE TABLE slices (
    slice_user  TEXT NOT NULL,
    name        TEXT NOT NULL,
    document    TEXT NOT NULL,
    placement   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    deleted_at  INTEGER,
    delete_document TEXT,
    renew_document TEXT,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (slice_user, name)
  );
  `,
  // 4: the user's latest signed slice.resize, which sets how many slivers the
  // slice has (the create document's spec says how many it started with).
  `
  ALTER TABLE slices ADD COLUMN resize_document TEXT;
  `,
  // 5: the upload and download rates a sliver is guaranteed (Mbit/s, 0 for a
  // fair share), held by leases too so admission counts them.
  `
  ALTER TABLE slivers ADD COLUMN up_mbit REAL NOT NULL DEFAULT 0;
  ALTER TABLE slivers ADD COLUMN down_mbit REAL NOT NULL DEFAULT 0;
  ALTER TABLE leases ADD COLUMN up_mbit REAL NOT NULL DEFAULT 0;
  ALTER TABLE leases ADD COLUMN down_mbit REAL NOT NULL DEFAULT 0;
  `,
  // 6: the Debian packages a sliver's image adds to its template's base, a
  // JSON list (sorted); slivers made before are of the base image.
  `
  ALTER TABLE slivers ADD COLUMN packages TEXT NOT NULL DEFAULT '[]';
  `,
  // 7: the services a sliver declares. Each is forwarded from its gateway
  // port by a row of forwards, made and removed with it in one transaction.
  `
  CREATE TABLE services (
    sliver_id   TEXT NOT NULL REFERENCES slivers(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    port        INTEGER NOT NULL,
    protocol    TEXT NOT NULL CHECK (protocol IN ('tcp','udp')),
    host_port   INTEGER NOT NULL,
    fixed       INTEGER NOT NULL,
    health      TEXT NOT NULL,
    PRIMARY KEY (sliver_id, name),
    UNIQUE (protocol, host_port)
  );
  `,
  // 8: a slice's events found without reading the whole log: those whose
  // detail names the slice (and its user), and those of one sliver. Partial,
  // so the many events of neither kind cost the indexes nothing.
  `
  CREATE INDEX events_by_slice ON events (json_extract(detail, '$.slice'), json_extract(detail, '$.user'), seq)
    WHERE json_extract(detail, '$.slice') IS NOT NULL;
  CREATE INDEX events_by_sliver ON events (sliver_id, seq) WHERE sliver_id IS NOT NULL;
  `,
];
