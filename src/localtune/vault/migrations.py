"""Schema migrations by version (`PRAGMA user_version`). Append only: never edit a released step."""

MIGRATIONS: list[str] = [
    # 1: journal, blob store
    """
    CREATE TABLE scenarios (
        id INTEGER PRIMARY KEY,
        occurred_on TEXT NOT NULL DEFAULT '',
        industry TEXT NOT NULL DEFAULT '',
        context TEXT NOT NULL DEFAULT '',
        situation TEXT NOT NULL,
        people TEXT NOT NULL DEFAULT '[]',
        tags TEXT NOT NULL DEFAULT '[]',
        use TEXT NOT NULL DEFAULT 'train' CHECK (use IN ('train', 'eval', 'exclude')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX scenarios_industry ON scenarios(industry);
    CREATE INDEX scenarios_recent ON scenarios(occurred_on, id);
    CREATE TABLE perspectives (
        id INTEGER PRIMARY KEY,
        scenario_id INTEGER NOT NULL REFERENCES scenarios(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        viewpoint TEXT NOT NULL,
        assessment TEXT NOT NULL CHECK (assessment IN ('reasonable', 'problematic', 'mixed')),
        analysis TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX perspectives_scenario ON perspectives(scenario_id);
    CREATE VIRTUAL TABLE scenario_fts USING fts5(
        situation, context, analyses, industry, tags,
        content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2', prefix='2 3'
    );
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE blobs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
    );
    CREATE TABLE blob_chunks (
        blob_id INTEGER NOT NULL REFERENCES blobs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (blob_id, seq)
    ) WITHOUT ROWID;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
