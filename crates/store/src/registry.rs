//! The registry of older people: persons keyed by ID number, dated facts with provenance, and the
//! import batches they came in. Batches are applied set-based: a segment's facts go into the
//! registry by one statement (from `rows_in` on SQLite, by `COPY` or from a staging table on
//! PostgreSQL), all in one transaction, so a batch lands whole or not at all.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde::Serialize;

use crate::{Cell, ColType, Db, Result, Row, StoreError, Tx, Value};

/// One fact from one row of a department file, already validated.
#[derive(Debug, Clone)]
pub struct StagedFact {
    /// The person's id where the sender knows them registered (the importer's reading thread,
    /// from the map of registered people it shares with the batch); `None` leaves finding them
    /// to the batch. Trusted as given: persons are never deleted or renumbered, so an id once
    /// read for an ID number stays its id.
    pub person_id: Option<i64>,
    pub row_no: i64,
    pub id_number: String,
    pub name: String,
    pub sex: i64,
    pub birth_date: NaiveDate,
    pub kind: &'static str,
    pub value: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    /// The first fact of this person in the batch: it carries the person's name and details.
    /// The name is read from this fact only (the importer leaves it empty on the others).
    pub first_of_person: bool,
}

/// A row that was not imported, or imported once only, and why.
#[derive(Debug, Clone, Serialize)]
pub struct RowIssue {
    pub row_no: i64,
    pub severity: Severity,
    pub column: String,
    pub value: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Severity {
    /// Rejected: nothing of the row was imported.
    Error,
    /// The same record as an earlier row; imported once.
    Duplicate,
}

impl Severity {
    pub fn code(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Duplicate => "duplicate",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "错误（未导入）",
            Severity::Duplicate => "重复（已合并）",
        }
    }
}

pub enum Staged {
    Fact(StagedFact),
    Issue(RowIssue),
    /// A row read (for the counts), after its facts or issue.
    RowDone {
        ok: bool,
    },
}

/// Test-only fault injection: abort the batch at this point, after real writes were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailAt {
    AfterFacts,
}

#[derive(Debug, Clone)]
pub struct NewBatch {
    pub source: String,
    pub department: String,
    pub file_name: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub encoding: String,
    pub archive_path: Option<String>,
    pub now: DateTime<Utc>,
    pub fail_at: Option<FailAt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchSummary {
    pub id: i64,
    pub source: String,
    pub department: String,
    pub file_name: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub encoding: String,
    pub archive_path: Option<String>,
    pub rows_total: i64,
    pub rows_ok: i64,
    pub rows_bad: i64,
    pub rows_duplicate: i64,
    pub persons_new: i64,
    pub facts_new: i64,
    pub facts_ended: i64,
    pub conflicts: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const BATCH_COLS: &str = "id, source, department, file_name, sha256, size_bytes, encoding, archive_path, rows_total, rows_ok, rows_bad, rows_duplicate, persons_new, facts_new, facts_ended, conflicts, started_at, finished_at";

fn batch_from(r: &Row) -> Result<BatchSummary> {
    Ok(BatchSummary {
        id: r.int(0)?,
        source: r.text(1)?,
        department: r.text(2)?,
        file_name: r.text(3)?,
        sha256: r.text(4)?,
        size_bytes: r.int(5)?,
        encoding: r.text(6)?,
        archive_path: r.opt_text(7)?,
        rows_total: r.int(8)?,
        rows_ok: r.int(9)?,
        rows_bad: r.int(10)?,
        rows_duplicate: r.int(11)?,
        persons_new: r.int(12)?,
        facts_new: r.int(13)?,
        facts_ended: r.int(14)?,
        conflicts: r.int(15)?,
        started_at: r.time(16)?,
        finished_at: r.opt_time(17)?,
    })
}

pub fn find_batch(db: &Db, source: &str, sha256: &str) -> Result<Option<BatchSummary>> {
    db.query_one(
        &format!("SELECT {BATCH_COLS} FROM import_batch WHERE source = $1 AND sha256 = $2"),
        &[Value::text(source), Value::text(sha256)],
    )?
    .map(|r| batch_from(&r))
    .transpose()
}

pub fn batch(db: &Db, id: i64) -> Result<Option<BatchSummary>> {
    db.query_one(
        &format!("SELECT {BATCH_COLS} FROM import_batch WHERE id = $1"),
        &[Value::Int(id)],
    )?
    .map(|r| batch_from(&r))
    .transpose()
}

pub fn batches(db: &Db, limit: i64) -> Result<Vec<BatchSummary>> {
    db.query(
        &format!("SELECT {BATCH_COLS} FROM import_batch ORDER BY id DESC LIMIT $1"),
        &[Value::Int(limit)],
    )?
    .iter()
    .map(batch_from)
    .collect()
}

pub fn batch_issues(db: &Db, batch_id: i64, limit: i64, offset: i64) -> Result<Vec<RowIssue>> {
    db.query(
        "SELECT row_no, severity, column_name, value, reason FROM import_error WHERE batch_id = $1 ORDER BY row_no, column_name LIMIT $2 OFFSET $3",
        &[Value::Int(batch_id), Value::Int(limit), Value::Int(offset)],
    )?
    .iter()
    .map(|r| {
        Ok(RowIssue {
            row_no: r.int(0)?,
            severity: if r.text(1)? == "duplicate" { Severity::Duplicate } else { Severity::Error },
            column: r.text(2)?,
            value: r.text(3)?,
            reason: r.text(4)?,
        })
    })
    .collect()
}

/// The one integer a query answers inside a transaction (0 for no row).
fn int_in(t: &mut dyn Tx, sql: &str, params: &[Value]) -> Result<i64> {
    t.query_one(sql, params)?
        .map(|r| r.int(0))
        .transpose()
        .map(|v| v.unwrap_or(0))
}

// Facts held in memory before they are written: a few hundred MB at most, whatever the file's
// size (a larger file is written in several segments within the same transaction). Per thread
// (the one applying the batch), so that a test's tiny segments do not reach another test
// running beside it.
thread_local! {
    static SEGMENT_FACTS: std::cell::Cell<usize> = const { std::cell::Cell::new(1 << 22) };
}

/// Sets the number of facts a batch applied on this thread holds in memory before writing them
/// (default 4,194,304). For tests, which make segments tiny to exercise batches of many
/// segments: a registry must come out the same whatever the size.
#[doc(hidden)]
pub fn set_segment_facts(n: usize) {
    SEGMENT_FACTS.with(|s| s.set(n.max(1)));
}

/// Whose fact: a registered person's id, someone the segment being gathered registers (by
/// their index in it), or a newcomer of the batch by their number (see [`Prepared`]).
#[derive(Clone, Copy)]
enum Who {
    Id(i64),
    New(u32),
    Seq(u64),
}

/// Where newcomers sort among registered people before they have ids: after all of them, in
/// the order they are numbered (their ids then follow in that order; see [`Prepared`]).
const PROVISIONAL_ID: i64 = 1 << 62;

struct PendingFact {
    who: Who,
    kind: &'static str,
    value: String,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    /// Ended by a death already on record before it is written (see [`BatchCtx::died`]).
    ended: bool,
}

impl PendingFact {
    /// Moves the fact out, leaving an empty one (no allocation) in its place.
    fn take(&mut self) -> PendingFact {
        std::mem::replace(
            self,
            PendingFact {
                who: Who::Id(0),
                kind: "",
                value: String::new(),
                valid_from: NaiveDate::MIN,
                valid_to: None,
                ended: false,
            },
        )
    }
}

/// A fact's place in the fact table's unique index as one integer: kind (its rank among the
/// segment's kinds, which is their text order), person and start day, in the index's order of
/// columns on each database.
#[derive(Clone, Copy)]
struct SortKey {
    person_first: bool,
}

impl SortKey {
    fn of(self, kind: u32, person: i64, day: NaiveDate) -> u128 {
        // Days from the common era, shifted to stay non-negative in 32 bits.
        let day = u128::from((i64::from(day.num_days_from_ce()) + (1i64 << 31)) as u32);
        let (kind, person) = (u128::from(kind), u128::from(person as u64));
        if self.person_first {
            (person << 64) | (kind << 32) | day
        } else {
            (kind << 96) | (person << 32) | day
        }
    }

    fn person(self, key: u128) -> i64 {
        if self.person_first {
            (key >> 64) as u64 as i64
        } else {
            (key >> 32) as u64 as i64
        }
    }

    fn kind(self, key: u128) -> u32 {
        if self.person_first {
            (key >> 32) as u32
        } else {
            (key >> 96) as u32
        }
    }

    /// Same person and kind (the start day aside).
    fn same_person_and_kind(self, a: u128, b: u128) -> bool {
        a >> 32 == b >> 32
    }
}

/// Someone the registry does not hold yet (as far as the importer knows).
#[derive(Default)]
struct Newcomer {
    id_number: String,
    name: String,
    sex: i64,
    birth_date: NaiveDate,
    /// The 户籍 code the file gives, which orders new people (see [`write_segment`]).
    place: String,
}

/// A map keyed by ID number, held as the number it is ([`PersonIds::key`]): no string to
/// allocate or compare a person; anything not of that form is kept as text.
struct IdNumberMap<V> {
    by_key: foldhash::HashMap<u64, V>,
    others: foldhash::HashMap<String, V>,
}

impl<V> Default for IdNumberMap<V> {
    fn default() -> Self {
        IdNumberMap {
            by_key: foldhash::HashMap::default(),
            others: foldhash::HashMap::default(),
        }
    }
}

impl<V: Copy> IdNumberMap<V> {
    fn get(&self, id_number: &str) -> Option<&V> {
        match PersonIds::key(id_number) {
            Some(k) => self.by_key.get(&k),
            None => self.others.get(id_number),
        }
    }

    fn insert(&mut self, id_number: &str, v: V) {
        match PersonIds::key(id_number) {
            Some(k) => self.by_key.insert(k, v),
            None => self.others.insert(id_number.to_string(), v),
        };
    }
}

#[derive(Default)]
struct Segment {
    facts: Vec<PendingFact>,
    people: Vec<Newcomer>,
    index: IdNumberMap<u32>,
    /// Registered people's names as 公安 gives them.
    names: Vec<(i64, String)>,
}

impl Segment {
    /// The newcomer a fact names (registered in this segment on first sight). Takes the fact's
    /// ID number and name, which the fact needs no longer.
    fn newcomer(&mut self, f: &mut StagedFact) -> Who {
        if let Some(&i) = self.index.get(&f.id_number) {
            return Who::New(i);
        }
        let i = self.people.len() as u32;
        self.index.insert(&f.id_number, i);
        self.people.push(Newcomer {
            id_number: std::mem::take(&mut f.id_number),
            name: std::mem::take(&mut f.name),
            sex: f.sex,
            birth_date: f.birth_date,
            place: if f.kind == "hukou" {
                f.value.clone()
            } else {
                String::new()
            },
        });
        Who::New(i)
    }
}

/// What every segment of a batch writes with.
struct BatchCtx {
    batch_id: i64,
    source: Value,
    now: Value,
    gongan: bool,
    /// The kinds of fact the source had before this batch. A fact of any other kind (its
    /// first delivery of that kind) can meet one of the same key, or be superseded, only
    /// inside the batch, which the segments see for themselves (see [`SegmentsSeen`]).
    held_kinds: Vec<String>,
    /// The importer's map of registered people is exact for this transaction (brought up to
    /// date under the registration lock): everyone it does not hold is new.
    exact_people: bool,
    /// PostgreSQL, the importer's batch, and this role owns the fact table: a large batch may
    /// switch off the per-statement reference check (see [`trust_references`]).
    may_trust_references: bool,
    /// The same, and the fact table was empty when the batch began: a large first segment may
    /// load the person table, if that is empty as well, without its ID-number key (see
    /// [`defer_indexes`]).
    may_defer_person_key: bool,
    /// People with a death on record when the batch began, and its earliest date. A new fact
    /// of theirs that nothing in the batch can supersede is written already ended on that
    /// date, as the death step would end it after writing (see [`write_segment`]): once the
    /// death file is in, the later files' facts of the dead need no update.
    died: foldhash::HashMap<i64, NaiveDate>,
}

impl BatchCtx {
    fn fresh(&self, kind: &str) -> bool {
        !self.held_kinds.iter().any(|k| k == kind)
    }
}

/// What the segments of a batch learn about each other, for its facts of fresh kinds.
#[derive(Default)]
struct SegmentsSeen {
    /// People with facts in the batch's earlier segments, sorted: a fact of theirs may meet
    /// one written before, so it takes the path that checks the key.
    people: Vec<i64>,
    /// Some person has two facts of one kind at different dates in the batch (or may have,
    /// across segments), or the batch has facts of a kind the source held before: the
    /// supersession query must run.
    supersession: bool,
    /// The fact table's reference check is off in this transaction (PostgreSQL).
    references_trusted: bool,
    /// Facts written by `COPY` straight into the fact table, each a new one (PostgreSQL).
    copied: i64,
    /// Some segment went through staging and its upsert, which may end facts as well.
    staged: bool,
    /// Indexes dropped, or a partition created bare, for this batch's load into an empty
    /// table: the statements that build them (PostgreSQL; see [`defer_indexes`],
    /// [`ensure_fact_partition`]).
    deferred_indexes: Vec<String>,
    /// The source's partition of the fact table, once known to exist or created (PostgreSQL;
    /// at the batch's first segment).
    partition: Option<String>,
    /// That partition was created bare by this batch and is not attached yet: facts are
    /// copied into it by name until [`restore_indexes`] attaches it.
    partition_bare: bool,
    /// The person table's ID-number key was considered for deferring (at the batch's first newcomers).
    defer_people_considered: bool,
    /// Facts written already ended by a death on record ([`BatchCtx::died`]).
    pre_ended: i64,
    /// Some new fact of a person with a death on record was left for the death step (it may be
    /// superseded in the batch, whose result the death then caps).
    death_left: bool,
}

impl SegmentsSeen {
    /// The person had facts in an earlier segment of the batch.
    fn met_before(&self, person: i64) -> bool {
        !self.people.is_empty() && self.people.binary_search(&person).is_ok()
    }
}

/// A fact's kind (by its key) is new to the source ([`BatchCtx::fresh`] per segment kind).
fn is_fresh(fresh_kind: &[bool], key: SortKey, k: u128) -> bool {
    fresh_kind.get(key.kind(k) as usize).copied().unwrap_or(false)
}

/// A segment gathered and put in order by the batch's preparing thread while the writer
/// writes the one before ([`prepare_segments`]; ARCHITECTURE decision 32). Its newcomers are
/// numbered through the batch in the order they are registered, and sort as
/// [`PROVISIONAL_ID`] plus that number: registration gives them ids in the same order, above
/// every id taken before (SQLite's next rowids; a sequence's next values), so the writer's
/// real keys keep the order (checked, and sorted again where they do not).
struct Prepared {
    /// In the unique index's order by the provisional keys.
    facts: Vec<PendingFact>,
    /// Each fact's key ([`SortKey`]), provisional for newcomers until the writer fills in ids.
    keyed: Vec<u128>,
    /// The segment's kinds in their text order: a key's kind is its rank here.
    kinds: Vec<&'static str>,
    /// Newcomers in the order they are registered: the first is the batch's newcomer
    /// `first_seq`.
    people: Vec<Newcomer>,
    first_seq: u64,
    /// Registered people's names as 公安 gives them.
    names: Vec<(i64, String)>,
    more_follow: bool,
}

/// The people a batch registered (or found registered): ID number → number ([`Prepared`]),
/// and each number's id.
struct BatchNewcomers {
    numbers: IdNumberMap<u64>,
    ids: Vec<i64>,
}

/// What the preparing thread counted over the whole batch.
#[derive(Default)]
struct Gathered {
    total: i64,
    ok: i64,
    bad: i64,
    dup: i64,
    issues: Vec<RowIssue>,
    kinds: std::collections::BTreeSet<&'static str>,
    /// The batch's newcomers by ID number: their numbers ([`Prepared`]).
    newcomers: IdNumberMap<u64>,
}

/// The preparing thread of a batch: reads the file's items, resolves each row's person (the
/// importer's map, a newcomer of an earlier segment, or a new one), and hands the writer one
/// segment at a time, in order ([`finish_segment`]). The channel holds none: at most the
/// segment being written and the one prepared are in memory.
fn prepare_segments(
    items: &mut (dyn Iterator<Item = std::result::Result<Staged, String>> + Send),
    known: Option<&PersonIds>,
    gongan: bool,
    key: SortKey,
    segment_facts: usize,
    out: std::sync::mpsc::SyncSender<Prepared>,
) -> Result<Gathered> {
    let mut g = Gathered::default();
    let mut lap = Lap::new();
    let mut seg = Segment::default();
    let mut next_seq = 0u64;
    // The first segments are small and each is twice the one before, up to the full size: the
    // writer starts on a file's first rows while the rest are still being read (the first file
    // of an import has nothing else to hide its reading behind), and large files still go in
    // large segments.
    let mut segment_limit = (segment_facts / 64).max(1);
    let mut last: Option<(String, Who)> = None;
    let send = |p: Prepared| {
        out.send(p)
            .map_err(|_| StoreError::Aborted("the batch's writer stopped".into()))
    };
    // Segments end with a row, so that a row's facts — one person's — are not split: a person
    // met again in a later segment sends the whole batch through the supersession query (167 s
    // for a 30,000,000-fact batch).
    for item in items {
        let full = match item.map_err(StoreError::Aborted)? {
            Staged::Fact(mut f) => {
                g.kinds.insert(f.kind);
                // A row's facts come together: its person is looked up once, not per fact.
                let who = match &last {
                    Some((id_number, who)) if *id_number == f.id_number => *who,
                    _ => {
                        let registered = f.person_id.or_else(|| known.and_then(|k| k.get(&f.id_number)));
                        // The buffer is reused: a clone per row was an allocation per row.
                        let last = last.get_or_insert_with(|| (String::new(), Who::Id(0)));
                        last.0.clear();
                        last.0.push_str(&f.id_number);
                        last.1 = match registered {
                            Some(pid) => {
                                // 公安 holds the authoritative name.
                                if gongan && f.first_of_person {
                                    seg.names.push((pid, f.name.clone()));
                                }
                                Who::Id(pid)
                            }
                            None => match g.newcomers.get(&f.id_number) {
                                Some(&n) => Who::Seq(n),
                                None => seg.newcomer(&mut f),
                            },
                        };
                        last.1
                    }
                };
                if seg.facts.capacity() == 0 {
                    // Room for the whole segment at once: grown by doubling, a segment's facts
                    // were copied about twice over and their memory faulted in again each time.
                    seg.facts.reserve(segment_limit + 64);
                }
                seg.facts.push(PendingFact {
                    who,
                    kind: f.kind,
                    value: f.value,
                    valid_from: f.valid_from,
                    valid_to: f.valid_to,
                    ended: false,
                });
                // A caller that sends no row ends is cut at twice the size.
                seg.facts.len() >= 2 * segment_limit
            }
            Staged::Issue(i) => {
                if i.severity == Severity::Duplicate {
                    g.dup += 1;
                }
                g.issues.push(i);
                false
            }
            Staged::RowDone { ok: row_ok } => {
                g.total += 1;
                if row_ok {
                    g.ok += 1;
                } else {
                    g.bad += 1;
                }
                seg.facts.len() >= segment_limit
            }
        };
        if full {
            // A newcomer's index is the segment's own.
            last = None;
            lap.mark("prepare-gathered");
            let p = finish_segment(std::mem::take(&mut seg), &mut g.newcomers, &mut next_seq, key, true);
            lap.mark("prepare-sorted");
            send(p)?;
            segment_limit = (segment_limit * 2).min(segment_facts);
        }
    }
    lap.mark("prepare-gathered");
    send(finish_segment(seg, &mut g.newcomers, &mut next_seq, key, false))?;
    lap.mark("prepare-sorted");
    Ok(g)
}

/// Orders a gathered segment's newcomers and numbers them, and sorts its facts into the unique
/// index's order (see [`Prepared`]).
fn finish_segment(
    seg: Segment,
    newcomers: &mut IdNumberMap<u64>,
    next_seq: &mut u64,
    key: SortKey,
    more_follow: bool,
) -> Prepared {
    let Segment {
        mut facts,
        people,
        index: _,
        names,
    } = seg;
    // New people are numbered in the order of where they live (the 户籍 code; else the ID
    // number, which starts with the issuing county): people of one village get neighbouring
    // ids, so their facts, written in person order, also reach the division index nearly in
    // order, and a village's people share pages.
    // Sorted on integers (the place's digits, the ID number as a number): one village's people
    // still come together; the texts are compared only where those tie.
    let keyed: Vec<(u64, u64)> = people
        .iter()
        .map(|p| (digits_key(&p.place), PersonIds::key(&p.id_number).unwrap_or(u64::MAX)))
        .collect();
    let mut order: Vec<usize> = (0..people.len()).collect();
    order.sort_unstable_by(|&x, &y| {
        keyed[x].cmp(&keyed[y]).then_with(|| {
            let (a, b) = (&people[x], &people[y]);
            (a.place.as_str(), a.id_number.as_str()).cmp(&(b.place.as_str(), b.id_number.as_str()))
        })
    });
    let first_seq = *next_seq;
    let mut seq_of = vec![0u64; people.len()];
    for (rank, &i) in order.iter().enumerate() {
        seq_of[i] = first_seq + rank as u64;
    }
    *next_seq += people.len() as u64;
    let mut people = people;
    let people: Vec<Newcomer> = order.iter().map(|&i| std::mem::take(&mut people[i])).collect();
    for (p, n) in people.iter().zip(first_seq..) {
        newcomers.insert(&p.id_number, n);
    }
    // The unique index's order (kind first on SQLite, person first on PostgreSQL; see the
    // migrations), so that the insert appends.
    // Sorted on one integer a fact: kind (its rank in the text order the index uses), person,
    // start date. Comparing the tuples with their kind strings took three times as long.
    let mut kinds: Vec<&'static str> = Vec::new();
    for f in &facts {
        if !kinds.contains(&f.kind) {
            kinds.push(f.kind);
        }
    }
    kinds.sort_unstable();
    let mut keyed: Vec<(u128, u32)> = facts
        .iter_mut()
        .enumerate()
        .map(|(i, f)| {
            if let Who::New(n) = f.who {
                f.who = Who::Seq(seq_of[n as usize]);
            }
            let person = match f.who {
                Who::Id(p) => p,
                Who::Seq(n) => PROVISIONAL_ID + n as i64,
                Who::New(_) => PROVISIONAL_ID,
            };
            let kind = kinds.iter().position(|k| *k == f.kind).unwrap_or(0) as u32;
            (key.of(kind, person, f.valid_from), i as u32)
        })
        .collect();
    keyed.sort_unstable_by_key(|e| e.0);
    // The facts themselves moved into that order, once: every pass after this reads them in
    // sequence (reading them through a sorted list of references missed the cache at every
    // fact, in each of three passes).
    let sorted: Vec<PendingFact> = keyed.iter().map(|&(_, i)| facts[i as usize].take()).collect();
    Prepared {
        facts: sorted,
        keyed: keyed.into_iter().map(|(k, _)| k).collect(),
        kinds,
        people,
        first_seq,
        names,
        more_follow,
    }
}

/// Writes one prepared segment: registers its newcomers (their ids appended to
/// `newcomer_ids`, by number), corrects names (公安), and writes its facts in index order.
/// Returns (people registered, facts inserted or ended).
fn write_segment(
    t: &mut dyn Tx,
    seg: Prepared,
    newcomer_ids: &mut Vec<i64>,
    ctx: &BatchCtx,
    seen: &mut SegmentsSeen,
    lap: &mut Lap,
) -> Result<(i64, i64)> {
    lap.mark("gathered");
    let Prepared {
        facts: sorted,
        mut keyed,
        kinds,
        people,
        first_seq,
        names,
        more_follow,
    } = seg;
    let mut persons_new = 0i64;
    if newcomer_ids.len() as u64 != first_seq {
        return Err(StoreError::Aborted(format!(
            "newcomers numbered from {first_seq}, but {} have ids",
            newcomer_ids.len()
        )));
    }
    if !people.is_empty() {
        let mut ids: Vec<i64> = vec![0; people.len()];
        // Decided at the batch's first newcomers (after them the table is not empty): a large
        // load, by its newcomers or because more segments follow (the first segments are
        // small, so that the writer starts early).
        if ctx.may_defer_person_key && !seen.defer_people_considered {
            seen.defer_people_considered = true;
            if more_follow || people.len() >= TRUST_REFERENCES_FROM {
                // Only the ID-number key goes: the person table's primary key is referenced
                // from everywhere.
                if let Some(build) = defer_indexes(t, "person")? {
                    seen.deferred_indexes.extend(build);
                }
            }
        }
        if ctx.exact_people {
            persons_new = register_new_people(t, &people, &mut ids, ctx)?;
        } else {
            lock_registration(t)?;
            persons_new = register_people(t, &people, &mut ids, ctx)?;
        }
        lap.mark("newcomers-written");
        newcomer_ids.extend_from_slice(&ids);
    }
    if !names.is_empty() {
        {
            let mut w = t.bulk("staging_name", &["person_id", "name"], &[ColType::Int, ColType::Text])?;
            for (pid, name) in &names {
                w.write(&[Value::Int(*pid), Value::text(name)])?;
            }
            w.finish()?;
        }
        t.exec(
            "UPDATE person SET name = s.name FROM staging_name s WHERE person.id = s.person_id AND person.name <> s.name",
            &[],
        )?;
        t.batch("DELETE FROM staging_name")?;
    }
    if sorted.is_empty() {
        return Ok((persons_new, 0));
    }
    let key = SortKey {
        person_first: t.backend() == crate::Backend::Postgres,
    };
    // The newcomers' ids into the keys. They keep the order unless registration found some
    // registered after all (a caller without the importer's exact map): then sorted again.
    for (k, f) in keyed.iter_mut().zip(&sorted) {
        let person = match f.who {
            Who::Id(p) => p,
            Who::Seq(n) => *newcomer_ids
                .get(n as usize)
                .ok_or_else(|| StoreError::Aborted(format!("newcomer {n} has no id")))?,
            Who::New(_) => return Err(StoreError::Aborted("a newcomer was not numbered".into())),
        };
        *k = key.of(key.kind(*k), person, f.valid_from);
    }
    let (keyed, mut sorted) = if keyed.windows(2).all(|w| w[0] <= w[1]) {
        (keyed, sorted)
    } else {
        let mut pairs: Vec<(u128, PendingFact)> = keyed.into_iter().zip(sorted).collect();
        pairs.sort_unstable_by_key(|e| e.0);
        pairs.into_iter().unzip()
    };
    let fresh_kind: Vec<bool> = kinds.iter().map(|k| ctx.fresh(k)).collect();
    if !ctx.died.is_empty() {
        end_by_deaths_on_record(&keyed, &mut sorted, &fresh_kind, key, ctx, seen);
        lap.mark("deaths-on-record");
    }
    // Each fact in that order with its person's id.
    let in_order = || keyed.iter().zip(&sorted).map(|(&k, f)| (key.person(k), f));
    lap.mark("keyed");
    // Facts of a kind new to the source need no key check against the table, except those of
    // people who had facts in an earlier segment; inside the segment, equal keys are
    // neighbours in this order. Written straight into the fact table on PostgreSQL (its
    // `INSERT … ON CONFLICT` from staging cost twice a `COPY`); SQLite's single
    // `INSERT … SELECT` (from `rows_in`) is faster than any per-row statement, so it keeps
    // that path.
    let mut direct: Vec<bool> = vec![false; sorted.len()];
    {
        let same_key = keyed.windows(2).any(|w| w[0] == w[1]);
        if keyed
            .windows(2)
            .any(|w| key.same_person_and_kind(w[0], w[1]) && w[0] != w[1])
        {
            seen.supersession = true;
        }
        let postgres = t.backend() == crate::Backend::Postgres;
        for (i, &k) in keyed.iter().enumerate() {
            let before = seen.met_before(key.person(k));
            let fresh = is_fresh(&fresh_kind, key, k);
            if before || !fresh {
                seen.supersession = true;
            }
            direct[i] = fresh && !before && !same_key && postgres;
        }
        // Only a later segment asks who came before (most batches are one segment).
        if more_follow {
            let mut here: Vec<i64> = in_order().map(|(p, _)| p).collect();
            here.sort_unstable();
            here.dedup();
            seen.people = merge_sorted(&seen.people, &here);
        }
    }
    if ctx.may_trust_references && !seen.references_trusted && sorted.len() >= TRUST_REFERENCES_FROM {
        trust_references(t, true)?;
        seen.references_trusted = true;
    }
    let direct_count = direct.iter().filter(|d| **d).count();
    // A department's first delivery, if large, goes into its new partition bare.
    ensure_fact_partition(
        t,
        ctx,
        seen,
        ctx.may_trust_references && direct_count >= TRUST_REFERENCES_FROM,
        lap,
    )?;
    if direct_count < sorted.len() {
        // Staging's upsert needs the unique key.
        restore_indexes(t, seen, lap)?;
    }
    let mut touched = 0i64;
    if direct_count > 0 {
        let [c0, c1, c2, c3, c4, c5] = FACT_COLS;
        let [t0, t1, t2, t3, t4, t5] = FACT_TYPES;
        // A partition being loaded has the batch's columns as defaults (see
        // [`ensure_fact_partition`]).
        let (into, n) = match &seen.partition {
            Some(p) if seen.partition_bare => (p.clone(), 7),
            _ => ("fact".to_string(), 10),
        };
        // With the fact table locked against other writers, the ids go with the rows.
        let first_id = if seen.references_trusted && direct_count >= RESERVE_FACT_IDS_FROM {
            Some(reserve_fact_ids(t, direct_count)?)
        } else {
            None
        };
        let from = if first_id.is_some() { 0 } else { 1 };
        let cols = ["id", c0, c1, c2, c3, c4, c5, "source", "batch_id", "recorded_at"];
        let types = [
            ColType::Int,
            t0,
            t1,
            t2,
            t3,
            t4,
            t5,
            ColType::Text,
            ColType::Int,
            ColType::Time,
        ];
        let mut w = t.bulk(&into, &cols[from..n], &types[from..n])?;
        let (source, batch, now) = (ctx.source.as_cell(), Cell::Int(ctx.batch_id), ctx.now.as_cell());
        let rows = in_order().zip(&direct).filter(|(_, d)| **d);
        for (id, ((p, f), _)) in (first_id.unwrap_or(0)..).zip(rows) {
            let [c0, c1, c2, c3, c4, c5] = fact_cells(p, f, ctx.batch_id);
            w.write_cells(&[Cell::Int(id), c0, c1, c2, c3, c4, c5, source, batch, now][from..n])?;
        }
        let copied = w.finish()? as i64;
        if first_id.is_some() && copied != direct_count as i64 {
            return Err(StoreError::Aborted(format!(
                "{copied} facts copied with {direct_count} ids taken"
            )));
        }
        touched += copied;
        lap.mark("facts-copied");
    }
    seen.copied += touched;
    if direct_count == sorted.len() {
        return Ok((persons_new, touched));
    }
    seen.staged = true;
    if t.backend() == crate::Backend::Sqlite {
        // Straight from memory into the upsert: no staging table to write and read back
        // (none of SQLite's facts is written directly, see above).
        let rows = SegmentFacts {
            key,
            keyed,
            facts: sorted,
            batch_id: ctx.batch_id,
        };
        touched += t.exec_rows(
            &UPSERT_FACTS.replace("{rows}", "SELECT c0, c1, c2, c3, c4, c5, $1, $2, $3 FROM rows_in"),
            &[ctx.source.clone(), Value::Int(ctx.batch_id), ctx.now.clone()],
            Box::new(rows),
        )? as i64;
        lap.mark("facts");
        return Ok((persons_new, touched));
    }
    {
        let mut w = t.bulk("staging_fact", &FACT_COLS, &FACT_TYPES)?;
        for ((p, f), _) in in_order().zip(&direct).filter(|(_, d)| !**d) {
            w.write_cells(&fact_cells(p, f, ctx.batch_id))?;
        }
        w.finish()?;
    }
    lap.mark("staging");
    // PostgreSQL: read back in the order written (a fresh table's scan order).
    touched += t.exec(
        &UPSERT_FACTS.replace(
            "{rows}",
            "SELECT person_id, kind, value, valid_from, valid_to, ended_by_batch, $1, $2, $3 FROM staging_fact",
        ),
        &[ctx.source.clone(), Value::Int(ctx.batch_id), ctx.now.clone()],
    )? as i64;
    t.batch("DELETE FROM staging_fact")?;
    lap.mark("facts");
    Ok((persons_new, touched))
}

/// Ends, before they are written, the segment's new facts of people with a death on record,
/// exactly as the batch's death step would end them after writing: each fact running on the
/// death date gets it as its end, and the batch as what ended it. Only facts nothing can
/// supersede are ended here — a kind new to the source, the person not in an earlier segment,
/// no other date of that kind for the person in the segment, no equal key — because the
/// supersession step ends a fact at its successor's start and the death then caps that; the
/// others are left to the death step, which then runs (`seen.death_left`).
fn end_by_deaths_on_record(
    keyed: &[u128],
    sorted: &mut [PendingFact],
    fresh_kind: &[bool],
    key: SortKey,
    ctx: &BatchCtx,
    seen: &mut SegmentsSeen,
) {
    let same_key = keyed.windows(2).any(|w| w[0] == w[1]);
    for (i, &k) in keyed.iter().enumerate() {
        let person = key.person(k);
        let Some(&died) = ctx.died.get(&person) else {
            continue;
        };
        let f = &mut sorted[i];
        if f.kind == "death" || f.valid_from > died || f.valid_to.is_some_and(|to| to <= died) {
            continue;
        }
        let sibling = |j: Option<usize>| {
            j.and_then(|j| keyed.get(j))
                .is_some_and(|&o| key.same_person_and_kind(o, k))
        };
        let may_be_superseded = same_key
            || !is_fresh(fresh_kind, key, k)
            || seen.met_before(person)
            || sibling(i.checked_sub(1))
            || sibling(Some(i + 1));
        if may_be_superseded {
            seen.death_left = true;
        } else {
            f.valid_to = Some(died);
            f.ended = true;
            seen.pre_ended += 1;
        }
    }
}

/// Registers a segment's newcomers whom the batch cannot know to be new (no exact map): those
/// registered meanwhile are found by their ID numbers. Fills `ids`; returns how many were new.
fn register_people(t: &mut dyn Tx, people: &[Newcomer], ids: &mut [i64], ctx: &BatchCtx) -> Result<i64> {
    let max_person = int_in(t, "SELECT COALESCE(MAX(id), 0) FROM person", &[])?;
    {
        let mut w = t.bulk(
            "staging_person",
            &["id_number", "name", "sex", "birth_date"],
            &[ColType::Text, ColType::Text, ColType::Int, ColType::Date],
        )?;
        for p in people {
            w.write(&[
                Value::text(&p.id_number),
                Value::text(&p.name),
                Value::Int(p.sex),
                Value::Date(p.birth_date),
            ])?;
        }
        w.finish()?;
    }
    // The ON CONFLICT is for someone registered meanwhile by a concurrent batch
    // (PostgreSQL), or by a caller without the importer's map.
    let persons_new = t.exec(
        "INSERT INTO person (id_number, name, sex, birth_date, first_batch)
         SELECT id_number, name, sex, birth_date, $1 FROM staging_person WHERE true
         ON CONFLICT (id_number) DO NOTHING",
        &[Value::Int(ctx.batch_id)],
    )? as i64;
    // Everyone registered now has an id above the largest before (SQLite numbers rows
    // from the largest; a PostgreSQL sequence never goes back): one range read. Where
    // some were registered before, they are found by their ID numbers.
    let resolve = if persons_new as usize == people.len() {
        "SELECT id, id_number FROM person WHERE id > $1"
    } else {
        "SELECT p.id, p.id_number FROM staging_person s JOIN person p ON p.id_number = s.id_number WHERE $1 >= 0"
    };
    let index: std::collections::HashMap<&str, usize> = people
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id_number.as_str(), i))
        .collect();
    let mut found = 0usize;
    t.scan_raw(resolve, &[Value::Int(max_person)], &mut |r| {
        if let Some(&i) = r.str(1)?.and_then(|n| index.get(n)) {
            if ids[i] == 0 {
                found += 1;
            }
            ids[i] = r.int(0)?;
        }
        Ok(())
    })?;
    if found != people.len() {
        return Err(StoreError::Aborted(format!(
            "{} of {} new people have no id after registration",
            people.len() - found,
            people.len()
        )));
    }
    if ctx.gongan && (persons_new as usize) < people.len() {
        // 公安 holds the authoritative name, also of those registered before.
        t.exec(
            "UPDATE person SET name = s.name FROM staging_person s WHERE person.id_number = s.id_number AND person.name <> s.name",
            &[],
        )?;
    }
    t.batch("DELETE FROM staging_person")?;
    Ok(persons_new)
}

/// Registers a segment's newcomers, all known to be new (the importer's exact map), with ids
/// taken up front — SQLite's next rowids (one writer), PostgreSQL's sequence — and written
/// straight into the person table: no staging, no key check, no reading the ids back.
fn register_new_people(t: &mut dyn Tx, people: &[Newcomer], ids: &mut [i64], ctx: &BatchCtx) -> Result<i64> {
    let n = people.len() as i64;
    let taken: Vec<i64> = match t.backend() {
        crate::Backend::Sqlite => {
            let max = int_in(t, "SELECT COALESCE(MAX(id), 0) FROM person", &[])?;
            (1..=n).map(|k| max + k).collect()
        }
        crate::Backend::Postgres => {
            // One run of ids from the sequence at once (drawn one by one, 1,000,000 ids took
            // 0.27 s). Every registration holds the registration lock, as this batch has since
            // it began ([`lock_registration`]), so nothing draws from the sequence between the
            // two calls; a person inserted by hand meanwhile would collide on the primary key
            // and fail the batch, never share an id.
            let first = int_in(t, "SELECT nextval(pg_get_serial_sequence('person', 'id'))", &[])?;
            t.query_one(
                "SELECT setval(pg_get_serial_sequence('person', 'id'), $1)",
                &[Value::Int(first + n - 1)],
            )?;
            (first..first + n).collect()
        }
    };
    if taken.len() != people.len() {
        return Err(StoreError::Aborted(format!(
            "{} ids taken for {} new people",
            taken.len(),
            people.len()
        )));
    }
    let mut w = t.bulk(
        "person",
        &["id", "id_number", "name", "sex", "birth_date", "first_batch"],
        &[
            ColType::Int,
            ColType::Text,
            ColType::Text,
            ColType::Int,
            ColType::Date,
            ColType::Int,
        ],
    )?;
    for ((p, &id), slot) in people.iter().zip(&taken).zip(ids.iter_mut()) {
        *slot = id;
        w.write_cells(&[
            Cell::Int(id),
            Cell::Text(&p.id_number),
            Cell::Text(&p.name),
            Cell::Int(p.sex),
            Cell::Date(p.birth_date),
            Cell::Int(ctx.batch_id),
        ])?;
    }
    Ok(w.finish()? as i64)
}

/// Facts a segment writes from which the importer switches the fact table's reference check off
/// for its batch: the check's own threshold for probing instead of hashing (migration 12).
const TRUST_REFERENCES_FROM: usize = 50_000;

/// PostgreSQL: switches the fact table's per-statement reference check (migration 11) off or
/// back on inside the importer's transaction. Keeping every statement's new facts for the
/// check, and the check itself, were a third of writing them: `COPY` of the 户籍 file's
/// 3,000,000 facts took 9.9 s without the trigger, 13.1 s with an empty trigger that keeps
/// them, 15.4 s with the check (BENCHMARKS.md, registry import, change 22). The batch cannot
/// fail the check: every person it names was read from the person table inside this
/// transaction, under the registration lock, or registered by it; persons are never deleted
/// or renumbered (migration 11); the import batch is its own. The switch is transactional (a
/// failed batch rolls it back) and holds a lock that makes other writers of facts wait for
/// the batch, as the source and registration locks already do for most of them; batches
/// under [`TRUST_REFERENCES_FROM`] facts a segment leave the check on.
fn trust_references(t: &mut dyn Tx, trusted: bool) -> Result<()> {
    t.batch(if trusted {
        "ALTER TABLE fact DISABLE TRIGGER fact_references"
    } else {
        "ALTER TABLE fact ENABLE TRIGGER fact_references"
    })
}

/// Facts a `COPY` writes from which it takes their ids from the sequence at once
/// ([`reserve_fact_ids`]): two round trips instead of a sequence call per fact.
const RESERVE_FACT_IDS_FROM: usize = 1_000;

/// PostgreSQL, with the fact table locked against every other writer ([`trust_references`]):
/// takes `n` consecutive fact ids at once, for a `COPY` that sends them with its rows instead
/// of drawing each row's id through the column default. That `nextval` per row was 0.23 µs,
/// nearly two fifths of copying a fact (shell, 3,000,000 facts: 1.81 s with the default,
/// 1.11 s with the ids sent; BENCHMARKS.md, registry import, change 41). Only under that lock:
/// nothing else draws from the sequence between the two calls (only inserting a fact does).
/// The ids are above every fact's before them, as the batch's new facts must be.
fn reserve_fact_ids(t: &mut dyn Tx, n: usize) -> Result<i64> {
    let first = int_in(t, "SELECT nextval(pg_get_serial_sequence('fact', 'id'))", &[])?;
    t.query_one(
        "SELECT setval(pg_get_serial_sequence('fact', 'id'), $1)",
        &[Value::Int(first + n as i64 - 1)],
    )?;
    Ok(first)
}

/// PostgreSQL: drops a table's unique keys and plain indexes (not its primary key) for a batch
/// that loads it while empty, and returns the statements that build them again. Built once
/// from the loaded table, by sorting, they cost less than kept up row by row (BENCHMARKS.md,
/// registry import, change 31). Used for the person table's ID-number key; the fact table's
/// first load per department is a new partition instead ([`ensure_fact_partition`]). Under an
/// exclusive lock on the table, taken before it is seen empty and held to the end of the
/// batch (readers wait for the first load instead of finding nothing); all of it
/// transactional: a failed batch leaves the indexes as they were. `None` (nothing dropped)
/// if the table holds a row.
fn defer_indexes(t: &mut dyn Tx, table: &'static str) -> Result<Option<Vec<String>>> {
    t.batch(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))?;
    if int_in(
        t,
        &format!("SELECT CASE WHEN EXISTS (SELECT 1 FROM {table}) THEN 1 ELSE 0 END"),
        &[],
    )? == 1
    {
        return Ok(None);
    }
    // (drop, build) of each unique key and plain index.
    let rows = t.query(
        &format!(
            "SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname),
                format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid))
         FROM pg_constraint c WHERE c.conrelid = '{table}'::regclass AND c.contype = 'u'
         UNION ALL
         SELECT format('DROP INDEX %s', x.indexrelid::regclass), pg_get_indexdef(x.indexrelid)
         FROM pg_index x
         WHERE x.indrelid = '{table}'::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
         ORDER BY 1"
        ),
        &[],
    )?;
    let mut build = Vec::with_capacity(rows.len());
    for r in &rows {
        t.batch(&r.text(0)?)?;
        build.push(r.text(1)?);
    }
    Ok(Some(build))
}

/// PostgreSQL: makes sure the batch's department has its partition of the fact table (list
/// partitions by source, migration 14), before the batch writes a fact. A partition it must
/// create is created as a table of its own and attached: with `bare`, only after the batch's
/// facts are copied into it, so that attaching builds its indexes once, by sorting (the
/// department's first delivery; [`restore_indexes`] attaches it). Attaching locks the fact
/// table against other schema changes only: readers and writers of other departments go on.
fn ensure_fact_partition(
    t: &mut dyn Tx,
    ctx: &BatchCtx,
    seen: &mut SegmentsSeen,
    bare: bool,
    lap: &mut Lap,
) -> Result<()> {
    if t.backend() != crate::Backend::Postgres || seen.partition.is_some() {
        return Ok(());
    }
    let r = t
        .query_one(
            "SELECT fact_partition_name($1),
                    CASE WHEN to_regclass(fact_partition_name($1)) IS NULL THEN 0 ELSE 1 END,
                    format('CREATE TABLE %1$I (LIKE fact INCLUDING DEFAULTS) WITH (fillfactor = 90);
                            ALTER TABLE %1$I ADD CONSTRAINT %2$I CHECK (source = %3$L);
                            COMMENT ON TABLE %1$I IS %4$L',
                           fact_partition_name($1), fact_partition_name($1) || '_source', $1, 'facts from ' || $1),
                    format('ALTER TABLE fact ATTACH PARTITION %I FOR VALUES IN (%L)', fact_partition_name($1), $1),
                    format('ALTER TABLE %1$I ALTER COLUMN source SET DEFAULT %2$L,
                              ALTER COLUMN batch_id SET DEFAULT %3$s, ALTER COLUMN recorded_at SET DEFAULT %4$L',
                           fact_partition_name($1), $1, $2::bigint, $3::timestamptz),
                    format('ALTER TABLE %1$I ALTER COLUMN source DROP DEFAULT,
                              ALTER COLUMN batch_id DROP DEFAULT, ALTER COLUMN recorded_at DROP DEFAULT',
                           fact_partition_name($1))",
            &[ctx.source.clone(), Value::Int(ctx.batch_id), ctx.now.clone()],
        )?
        .ok_or_else(|| StoreError::Aborted("no partition name".into()))?;
    seen.partition = Some(r.text(0)?);
    if r.int(1)? == 1 {
        return Ok(());
    }
    t.batch(&r.text(2)?)?;
    if bare {
        // The batch's own columns (source, batch, recorded at) as the new table's defaults
        // while it is loaded: `COPY` then sends and parses five columns a fact, not eight.
        t.batch(&r.text(4)?)?;
        seen.partition_bare = true;
        seen.deferred_indexes.push(r.text(5)?);
        seen.deferred_indexes.push(r.text(3)?);
        lap.mark("partition-created");
    } else {
        t.batch(&r.text(3)?)?;
    }
    Ok(())
}

/// Builds the indexes [`defer_indexes`] dropped and attaches the partition
/// [`ensure_fact_partition`] created bare, if they did. A unique key broken by the load fails
/// here, and the batch with it.
fn restore_indexes(t: &mut dyn Tx, seen: &mut SegmentsSeen, lap: &mut Lap) -> Result<()> {
    if !seen.deferred_indexes.is_empty() {
        // Each build sorts the whole table once; in memory up to this (the default, 64 MB,
        // sorts a large region's facts on disk). Until the transaction ends. Not more: the
        // unique key of 30,000,000 facts (the 10M 户籍 partition) built in 9.9 s with 256 MB,
        // 10.6 s with 512 MB, 10.8 s with 1 GB (a larger sort's memory misses the CPU's caches
        // more than merging its runs costs); 3,000,000 facts the same within noise (1.0–1.2 s).
        t.batch("SET LOCAL maintenance_work_mem = '256MB'")?;
        for sql in std::mem::take(&mut seen.deferred_indexes) {
            t.batch(&sql)?;
        }
        seen.partition_bare = false;
        lap.mark("indexes-built");
    }
    Ok(())
}

/// PostgreSQL: registering people one batch at a time, so that a batch's map of who is
/// registered stays exact until it commits (a no-op on SQLite, which has one writer). Taken
/// after the source's lock, in every batch, so the two are always taken in the same order.
fn lock_registration(t: &mut dyn Tx) -> Result<()> {
    if t.backend() == crate::Backend::Postgres {
        t.batch("SELECT pg_advisory_xact_lock(hashtext('yanglao.registry.people'))")?;
    }
    Ok(())
}

/// PostgreSQL: batches of one source one after the other: which kinds are fresh and which of
/// the source's facts supersede which are decided inside the batch's transaction, and a
/// concurrent batch of the same source would not see this one's facts. (SQLite has one
/// writer at a time anyway.)
fn lock_source(t: &mut dyn Tx, department: &str) -> Result<()> {
    if t.backend() == crate::Backend::Postgres {
        t.exec(
            "SELECT pg_advisory_xact_lock(hashtext('yanglao.registry.source.' || $1))",
            &[Value::text(department)],
        )?;
    }
    Ok(())
}

/// A segment's facts written into the fact table, or a fact already there ended by its
/// `valid_to`; `{rows}` selects (person, kind, value, from, to, ended by, source, batch,
/// recorded at).
const UPSERT_FACTS: &str =
    "INSERT INTO fact (person_id, kind, value, valid_from, valid_to, ended_by_batch, source, batch_id, recorded_at)
     {rows} WHERE true
     ON CONFLICT (kind, source, person_id, valid_from, value)
     DO UPDATE SET valid_to = excluded.valid_to, ended_by_batch = excluded.batch_id
     WHERE fact.valid_to IS NULL AND excluded.valid_to IS NOT NULL";

/// A segment's facts in index order, as `rows_in` gives them to SQLite's upsert: the
/// columns of [`FACT_COLS`].
struct SegmentFacts {
    key: SortKey,
    keyed: Vec<u128>,
    facts: Vec<PendingFact>,
    batch_id: i64,
}

impl crate::sqlite_rows_in::RowsIn for SegmentFacts {
    fn count(&self) -> usize {
        self.facts.len()
    }
    fn cell(&self, row: usize, col: usize) -> Cell<'_> {
        fact_cells(self.key.person(self.keyed[row]), &self.facts[row], self.batch_id)
            .get(col)
            .copied()
            .unwrap_or(Cell::Null)
    }
}

/// A pending fact's own columns, as staged and as copied into the fact table.
const FACT_COLS: [&str; 6] = ["person_id", "kind", "value", "valid_from", "valid_to", "ended_by_batch"];
const FACT_TYPES: [ColType; 6] = [
    ColType::Int,
    ColType::Text,
    ColType::Text,
    ColType::Date,
    ColType::Date,
    ColType::Int,
];

/// `batch`: the batch writing it, which is what ended a fact ended before it is written.
fn fact_cells(person: i64, f: &PendingFact, batch: i64) -> [Cell<'_>; 6] {
    [
        Cell::Int(person),
        Cell::Text(f.kind),
        Cell::Text(&f.value),
        Cell::Date(f.valid_from),
        f.valid_to.map_or(Cell::Null, Cell::Date),
        if f.ended { Cell::Int(batch) } else { Cell::Null },
    ]
}

/// The union of two sorted, duplicate-free lists.
fn merge_sorted(a: &[i64], b: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

const ISSUE_COLS: [&str; 6] = ["batch_id", "row_no", "severity", "column_name", "value", "reason"];
const ISSUE_TYPES: [ColType; 6] = [
    ColType::Int,
    ColType::Int,
    ColType::Text,
    ColType::Text,
    ColType::Text,
    ColType::Text,
];

/// Step timings of a batch, printed when `YANGLAO_TIMINGS` is set (for profiling imports).
struct Lap {
    on: bool,
    at: std::time::Instant,
}

impl Lap {
    fn new() -> Self {
        Lap {
            on: std::env::var_os("YANGLAO_TIMINGS").is_some(),
            at: std::time::Instant::now(),
        }
    }
    fn mark(&mut self, step: &str) {
        if self.on {
            eprintln!("    {step}: {:.2}s", self.at.elapsed().as_secs_f64());
            self.at = std::time::Instant::now();
        }
    }
}

/// Up to 15 digits as a number, ordered by length and then by value (for codes of one length,
/// the order of the texts); 0 for the empty text, `u64::MAX` for anything else.
fn digits_key(s: &str) -> u64 {
    if s.is_empty() {
        return 0;
    }
    if s.len() > 15 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return u64::MAX;
    }
    let n = s.bytes().fold(0u64, |n, c| n * 10 + u64::from(c - b'0'));
    ((s.len() as u64) << 60) | n
}

/// The registry's ID numbers with their person ids, held by an importer across the files of
/// one run: a fact of someone already registered is staged with the person's id, so the batch
/// neither looks the person up by the 18-character key nor joins on it (most rows of every file
/// after the first are such). Persons are never deleted, so the map is exact whenever it holds
/// as many people as the table; [`PersonIds::refresh`] checks that inside the batch's
/// transaction and reads what is missing. Hashed with foldhash: SipHash, the standard
/// library's, was about a twentieth of an import's writer thread for these integer keys.
#[derive(Debug, Default)]
pub struct PersonIds {
    ids: foldhash::HashMap<u64, i64>,
    max_id: i64,
}

impl PersonIds {
    /// An ID number as a number: 17 digits and the check character (`X` = 10), so the map
    /// holds 16 bytes a person instead of a string. `None` for anything else (such a row is
    /// then resolved by the database, as without a map).
    fn key(id_number: &str) -> Option<u64> {
        let b = id_number.as_bytes();
        if b.len() != 18 {
            return None;
        }
        let mut k = 0u64;
        for &c in &b[..17] {
            if !c.is_ascii_digit() {
                return None;
            }
            k = k * 10 + u64::from(c - b'0');
        }
        let check = match b[17] {
            c @ b'0'..=b'9' => u64::from(c - b'0'),
            b'X' => 10,
            _ => return None,
        };
        Some(k * 11 + check)
    }

    pub fn get(&self, id_number: &str) -> Option<i64> {
        Self::key(id_number).and_then(|k| self.ids.get(&k).copied())
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn add_rows(&mut self, t: &mut dyn Tx, sql: &str, params: &[Value]) -> Result<()> {
        t.scan_raw(sql, params, &mut |r| {
            let id = r.int(0)?;
            if let Some(k) = r.str(1)?.and_then(Self::key) {
                self.ids.insert(k, id);
            }
            self.max_id = self.max_id.max(id);
            Ok(())
        })?;
        Ok(())
    }

    /// Brings the map up to the table as this transaction sees it: people added since (by
    /// this run or another) are read by id, and a full read is the fallback (a PostgreSQL
    /// sequence can commit a lower id after a higher one).
    pub fn refresh(&mut self, t: &mut dyn Tx) -> Result<()> {
        let n = int_in(t, "SELECT COUNT(*) FROM person", &[])?;
        if n as usize == self.ids.len() {
            return Ok(());
        }
        let max = self.max_id;
        self.add_rows(t, "SELECT id, id_number FROM person WHERE id > $1", &[Value::Int(max)])?;
        if n as usize != self.ids.len() {
            self.ids.clear();
            self.max_id = 0;
            self.add_rows(t, "SELECT id, id_number FROM person", &[])?;
        }
        Ok(())
    }
}

/// Applies one batch in one transaction. `items` streams the file's validated rows; an `Err`
/// from it (a read error half-way through a file) aborts the batch and nothing is kept.
pub fn apply_batch(
    db: &Db,
    meta: &NewBatch,
    items: &mut (dyn Iterator<Item = std::result::Result<Staged, String>> + Send),
) -> Result<BatchSummary> {
    db.tx(|t| apply_batch_in(t, meta, items, None))
}

/// [`apply_batch`] with the importer's [`PersonIds`]: brought up to date inside the
/// transaction, used to stage known people by id, and given the batch's new people once the
/// batch has committed (not before: a batch that fails adds nobody). The map is shared: the
/// importer's reading threads look people up in it while the batch runs (see
/// [`StagedFact::person_id`]); it is locked for writing only to be brought up to date and to
/// take the new people.
pub fn apply_batch_known(
    db: &Db,
    meta: &NewBatch,
    items: &mut (dyn Iterator<Item = std::result::Result<Staged, String>> + Send),
    known: &std::sync::RwLock<PersonIds>,
) -> Result<BatchSummary> {
    // Every person and batch its facts name is read or created inside this transaction.
    let (summary, fresh) = db.tx_known_references(|t| {
        lock_source(t, &meta.department)?;
        lock_registration(t)?;
        known.write().unwrap_or_else(|e| e.into_inner()).refresh(t)?;
        let known = known.read().unwrap_or_else(|e| e.into_inner());
        apply_batch_resolving(t, meta, items, Some(&known), true)
    })?;
    let mut known = known.write().unwrap_or_else(|e| e.into_inner());
    // Those whose ID numbers are not of the usual form are not in the map (the database
    // resolves them), as in [`PersonIds::add_rows`].
    let id_of = |n: u64| fresh.ids.get(n as usize).copied();
    for (k, n) in fresh.numbers.by_key {
        if let Some(id) = id_of(n) {
            known.ids.insert(k, id);
            known.max_id = known.max_id.max(id);
        }
    }
    for n in fresh.numbers.others.into_values() {
        if let Some(id) = id_of(n) {
            known.max_id = known.max_id.max(id);
        }
    }
    Ok(summary)
}

/// [`apply_batch`] inside the caller's transaction, so that a change and the facts it makes
/// commit together (an assessment result and its `capability_level` fact).
pub fn apply_batch_in(
    t: &mut dyn Tx,
    meta: &NewBatch,
    items: &mut (dyn Iterator<Item = std::result::Result<Staged, String>> + Send),
    known: Option<&PersonIds>,
) -> Result<BatchSummary> {
    apply_batch_resolving(t, meta, items, known, false).map(|(summary, _)| summary)
}

/// [`apply_batch_in`], also returning the ID number → id of everyone the batch resolved by
/// registering them (or finding them registered), which the importer's map takes after the
/// commit.
fn apply_batch_resolving(
    t: &mut dyn Tx,
    meta: &NewBatch,
    items: &mut (dyn Iterator<Item = std::result::Result<Staged, String>> + Send),
    known: Option<&PersonIds>,
    exact_people: bool,
) -> Result<(BatchSummary, BatchNewcomers)> {
    let batch_id = t
        .query_one(
            "INSERT INTO import_batch (source, department, file_name, sha256, size_bytes, encoding, archive_path, started_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[
                Value::text(&meta.source),
                Value::text(&meta.department),
                Value::text(&meta.file_name),
                Value::text(&meta.sha256),
                Value::Int(meta.size_bytes),
                Value::text(&meta.encoding),
                Value::opt_text(meta.archive_path.clone()),
                Value::Time(meta.now),
            ],
        )?
        .ok_or_else(|| StoreError::Aborted("no batch id returned".into()))?
        .int(0)?;

    if t.backend() == crate::Backend::Postgres {
        // The joins of the follow-up statements (supersession, deaths, conflicts) run in
        // memory (4 MB, the default, spills a large batch's to temporary files). Until the
        // transaction ends. No JIT compilation: the batch's statements probe indexes, and
        // their estimates over the partitioned fact table crossed JIT's thresholds (the
        // death file's update spent 0.35 s of its 0.86 s compiling; change 35).
        t.batch("SET LOCAL work_mem = '256MB'; SET LOCAL jit = off")?;
    }
    t.batch(match t.backend() {
        crate::Backend::Sqlite => {
            "DROP TABLE IF EXISTS temp.staging_person; DROP TABLE IF EXISTS temp.staging_name;
             CREATE TEMP TABLE staging_person (id_number TEXT, name TEXT, sex BIGINT, birth_date TEXT);
             CREATE TEMP TABLE staging_name (person_id BIGINT, name TEXT)"
        }
        crate::Backend::Postgres => {
            "CREATE TEMP TABLE staging_person (id_number TEXT, name TEXT, sex BIGINT, birth_date DATE) ON COMMIT DROP;
             CREATE TEMP TABLE staging_fact (person_id BIGINT, kind TEXT, value TEXT, valid_from DATE, valid_to DATE, ended_by_batch BIGINT) ON COMMIT DROP;
             CREATE TEMP TABLE staging_name (person_id BIGINT, name TEXT) ON COMMIT DROP"
        }
    })?;
    lock_source(t, &meta.department)?;
    let held_kinds: Vec<String> = t
        .query(
            "SELECT kind FROM fact_source_kind WHERE source = $1",
            &[Value::text(&meta.department)],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect::<Result<_>>()?;
    // Facts are numbered in insertion order: everything this batch adds has an id above this.
    let max_before = int_in(t, "SELECT COALESCE(MAX(id), 0) FROM fact", &[])?;
    let may_trust_references = exact_people
        && known.is_some()
        && t.backend() == crate::Backend::Postgres
        && int_in(
            t,
            "SELECT CASE WHEN pg_has_role(c.relowner, 'USAGE') THEN 1 ELSE 0 END FROM pg_class c
             WHERE c.oid = 'fact'::regclass",
            &[],
        )? == 1;
    // Deaths on record (the partial index of deaths): usually a few per hundred people.
    let died: foldhash::HashMap<i64, NaiveDate> = t
        .query(
            "SELECT person_id, MIN(valid_from) FROM fact WHERE kind = 'death' GROUP BY person_id",
            &[],
        )?
        .iter()
        .map(|r| Ok((r.int(0)?, r.date(1)?)))
        .collect::<Result<_>>()?;
    let ctx = BatchCtx {
        batch_id,
        source: Value::text(&meta.department),
        // Whole seconds (the batch keeps its exact start): SQLite stores a time as text, and
        // the nanoseconds were ten of a fact row's hundred or so bytes.
        now: Value::Time(meta.now.with_nanosecond(0).unwrap_or(meta.now)),
        gongan: meta.department == "gongan",
        held_kinds,
        exact_people: exact_people && known.is_some(),
        may_trust_references,
        may_defer_person_key: may_trust_references && max_before == 0,
        died,
    };
    let (b, src) = (Value::Int(ctx.batch_id), ctx.source.clone());
    let mx = Value::Int(max_before);

    // The file's facts are gathered in memory a segment at a time, their people resolved to
    // ids (from the importer's map, from this batch's earlier segments, or by registering
    // them), sorted into the order of the fact table's unique index and written in that
    // order: the database then appends instead of seeking, and neither joins on the ID
    // number nor sorts (SQLite's sorter alone took 4–6 s for a 3,000,000-fact file). Issues
    // are few by construction (one per bad row) and written at the end.
    let mut lap = Lap::new();
    let mut seen = SegmentsSeen::default();
    let segment_facts = SEGMENT_FACTS.with(|s| s.get());
    let key = SortKey {
        person_first: t.backend() == crate::Backend::Postgres,
    };
    let (persons_new, touched, newcomer_ids, gathered) = std::thread::scope(|scope| {
        let (out, segments) = std::sync::mpsc::sync_channel::<Prepared>(0);
        let gongan = ctx.gongan;
        let preparing = std::thread::Builder::new()
            .name("batch-prepare".into())
            .spawn_scoped(scope, move || {
                prepare_segments(items, known, gongan, key, segment_facts, out)
            })
            .map_err(|e| StoreError::Aborted(format!("cannot start the batch's preparing thread: {e}")))?;
        // Takes the receiver: if writing fails, the preparing thread's next hand-over fails
        // and it stops.
        let written = (|| -> Result<(i64, i64, Vec<i64>)> {
            let (mut persons_new, mut touched) = (0i64, 0i64);
            let mut newcomer_ids: Vec<i64> = Vec::new();
            for seg in segments {
                let (p, n) = write_segment(t, seg, &mut newcomer_ids, &ctx, &mut seen, &mut lap)?;
                persons_new += p;
                touched += n;
            }
            Ok((persons_new, touched, newcomer_ids))
        })();
        let gathered = preparing
            .join()
            .map_err(|_| StoreError::Aborted("the batch's preparing thread failed".into()));
        // The writer's error first: the preparing thread's is then only that it was stopped.
        let (persons_new, touched, newcomer_ids) = written?;
        Ok::<_, StoreError>((persons_new, touched, newcomer_ids, gathered??))
    })?;
    restore_indexes(t, &mut seen, &mut lap)?;
    {
        let mut w = t.bulk("import_error", &ISSUE_COLS, &ISSUE_TYPES)?;
        for i in gathered.issues {
            w.write(&[
                Value::Int(batch_id),
                Value::Int(i.row_no),
                Value::text(i.severity.code()),
                Value::Text(i.column),
                Value::Text(i.value),
                Value::Text(i.reason),
            ])?;
        }
        w.finish()?;
        lap.mark("issues");
    }
    // SQLite numbers a row one above the largest rowid and this transaction is its only writer,
    // so the batch's facts are exactly the ids above the largest before (counting them took
    // 3.8 s for a 30,000,000-fact batch). On PostgreSQL, facts only copied are all new (a
    // `COPY` inserts every row or fails); otherwise they are counted (a sequence may leave
    // gaps, and another transaction's facts may have higher ids: the batch's own are those it
    // names).
    let facts_new = match t.backend() {
        crate::Backend::Sqlite => int_in(
            t,
            "SELECT COALESCE(MAX(id), $1) - $1 FROM fact",
            std::slice::from_ref(&mx),
        )?,
        crate::Backend::Postgres if !seen.staged => seen.copied,
        crate::Backend::Postgres => int_in(
            t,
            "SELECT COUNT(*) FROM fact WHERE id > $1 AND batch_id = $2",
            &[mx.clone(), b.clone()],
        )?,
    };
    lap.mark("count");
    if t.backend() == crate::Backend::Postgres && facts_new > 100_000 {
        // Large batches change the table's shape: refresh the statistics the next
        // statements are planned with (sampled, so cheap). Of the department's partition
        // only: `ANALYZE fact` samples the whole table and then every partition again (at
        // 1M people 0.3–0.5 s a batch instead of 0.2; BENCHMARKS.md, change 35).
        let partition = seen
            .partition
            .as_deref()
            .ok_or_else(|| StoreError::Aborted("the batch's partition is unknown".into()))?;
        t.batch(&format!("ANALYZE {partition}"))?;
        lap.mark("analyze");
    }
    let mut facts_ended = touched - facts_new;

    if meta.fail_at == Some(FailAt::AfterFacts) {
        return Err(StoreError::Aborted("injected failure after facts were written".into()));
    }

    // A later fact of the same kind from the same source ends the one before it, in either
    // order of arrival: an open fact older than a new one, or a new one older than a fact
    // already held.
    // The candidates are found from the new facts by index and the update is driven by
    // them, so its cost follows the batch, not the table. Most new facts have no other fact
    // of their kind and source for the person at another date: one index probe each rules
    // them out before the two joins below (which would probe twice).
    t.batch(match t.backend() {
        crate::Backend::Sqlite => {
            "DROP TABLE IF EXISTS temp.superseded; CREATE TEMP TABLE superseded (id INTEGER PRIMARY KEY);
             DROP TABLE IF EXISTS temp.supersede_new;
             CREATE TEMP TABLE supersede_new (id INTEGER, person_id INTEGER, kind TEXT, source TEXT, valid_from TEXT, valid_to TEXT)"
        }
        crate::Backend::Postgres => {
            "CREATE TEMP TABLE superseded (id BIGINT PRIMARY KEY) ON COMMIT DROP;
             CREATE TEMP TABLE supersede_new (id BIGINT, person_id BIGINT, kind TEXT, source TEXT, valid_from DATE, valid_to DATE) ON COMMIT DROP"
        }
    })?;
    // The pre-filtered new facts are kept apart and counted: usually there are none, and
    // the joins are then not run at all. The filter is a scalar subquery, not EXISTS:
    // PostgreSQL turned the EXISTS into a semi-join over the whole fact table (1.3 s for a
    // batch of any size); a correlated scalar subquery stays one index probe per new fact.
    // A batch of kinds new to its source whose segments saw no person with two dates of one
    // kind has nothing to supersede, and skips even the probes.
    let candidates = if !seen.supersession {
        0
    } else {
        t.exec(
            "INSERT INTO supersede_new (id, person_id, kind, source, valid_from, valid_to)
             SELECT id, person_id, kind, source, valid_from, valid_to FROM fact
             WHERE id > $1 AND (
               SELECT 1 FROM fact x WHERE x.kind = fact.kind AND x.source = fact.source
                 AND x.person_id = fact.person_id AND x.valid_from <> fact.valid_from LIMIT 1) IS NOT NULL",
            std::slice::from_ref(&mx),
        )?
    };
    if candidates > 0 {
        if t.backend() == crate::Backend::Postgres {
            t.batch("ANALYZE supersede_new")?;
        }
        t.exec(
            "INSERT INTO superseded (id)
             SELECT o.id FROM supersede_new n JOIN fact o
               ON o.person_id = n.person_id AND o.kind = n.kind AND o.source = n.source
              AND o.valid_to IS NULL AND o.valid_from < n.valid_from
             UNION
             SELECT n.id FROM supersede_new n JOIN fact l
               ON l.person_id = n.person_id AND l.kind = n.kind AND l.source = n.source AND l.valid_from > n.valid_from
             WHERE n.valid_to IS NULL",
            &[],
        )?;
    }
    if t.backend() == crate::Backend::Sqlite {
        t.batch("DROP TABLE temp.supersede_new")?;
    }
    lap.mark("supersede-find");
    facts_ended += t.exec(
        "UPDATE fact SET valid_to = (
             SELECT MIN(l.valid_from) FROM fact l
             WHERE l.person_id = fact.person_id AND l.kind = fact.kind AND l.source = fact.source AND l.valid_from > fact.valid_from),
           ended_by_batch = $1
         WHERE fact.id IN (SELECT id FROM superseded)",
        std::slice::from_ref(&b),
    )? as i64;
    if t.backend() == crate::Backend::Sqlite {
        t.batch("DROP TABLE temp.superseded")?;
    }
    lap.mark("supersede");

    // A death (公安) ends every fact of the person still running on that date, whichever
    // batch came first. Deaths are few: start from them.
    // One statement: each ended fact's page is read once, where gathering the ends first and
    // then updating them read it twice (the 10,000,000-person death file ends 664,757 facts,
    // on pages long gone from the cache between the two passes; with PostgreSQL's fact table
    // partitioned, the second pass probed every partition's key again: 27.7 s).
    // `d`: each person with a death on record and a fact in this batch (ids above `$1`), with
    // the earliest date of death. Needed only where the batch brings deaths, or left a new
    // fact of someone already dead to it: the others were written ended
    // ([`end_by_deaths_on_record`]).
    facts_ended += seen.pre_ended;
    if gathered.kinds.contains("death") || seen.death_left {
        let postgres = t.backend() == crate::Backend::Postgres;
        if postgres {
            // One probe of each partition's person-first key per death. PostgreSQL's estimate
            // put a scan of the whole table with a hash join below that (66,290 ends: 2.3 s
            // against 0.5 s probing; BENCHMARKS.md, registry import, change 19).
            t.batch("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")?;
        }
        facts_ended += t.exec(
            "WITH d AS MATERIALIZED (
                 SELECT f.person_id, MIN(f.valid_from) AS died FROM fact f
                 WHERE f.kind = 'death' AND EXISTS (SELECT 1 FROM fact n WHERE n.person_id = f.person_id AND n.id > $1)
                 GROUP BY f.person_id)
             UPDATE fact SET valid_to = d.died, ended_by_batch = $2 FROM d
             WHERE fact.person_id = d.person_id AND fact.kind <> 'death' AND fact.valid_from <= d.died
               AND (fact.valid_to IS NULL OR fact.valid_to > d.died)",
            &[mx.clone(), b.clone()],
        )? as i64;
        if postgres {
            t.batch("SET LOCAL enable_hashjoin TO DEFAULT; SET LOCAL enable_mergejoin TO DEFAULT")?;
        }
    }
    lap.mark("death");

    // Conflicts: another source says something else about the same thing at the same time.
    for kind in &gathered.kinds {
        t.exec(
            "INSERT INTO fact_source_kind (kind, source) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[Value::text(*kind), src.clone()],
        )?;
    }
    // Each kind this source shares with another, against each such source in turn: on
    // PostgreSQL each statement then reads two partitions of the fact table, not all.
    let contested: Vec<(String, String)> = t
        .query(
            "SELECT DISTINCT a.kind, o.source FROM fact_source_kind a
             JOIN fact_source_kind o ON o.kind = a.kind AND o.source <> a.source
             WHERE a.source = $1 ORDER BY 1, 2",
            std::slice::from_ref(&src),
        )?
        .iter()
        .map(|r| Ok((r.text(0)?, r.text(1)?)))
        .collect::<Result<_>>()?;
    let mut conflicts = 0i64;
    for (kind, other) in contested {
        conflicts += t.exec(
            "INSERT INTO fact_conflict (fact_id, other_fact_id, batch_id)
             SELECT n.id, o.id, $1
             FROM fact n
             JOIN fact o ON o.person_id = n.person_id AND o.kind = n.kind AND o.source = $5 AND o.value <> n.value
               AND o.valid_from < COALESCE(n.valid_to, '9999-12-31') AND n.valid_from < COALESCE(o.valid_to, '9999-12-31')
             WHERE n.id > $2 AND n.kind = $3 AND n.source = $4
             ON CONFLICT DO NOTHING",
            &[b.clone(), mx.clone(), Value::Text(kind), src.clone(), Value::Text(other)],
        )? as i64;
    }
    lap.mark("conflicts");
    if seen.references_trusted {
        trust_references(t, false)?;
    }

    t.exec(
        "UPDATE import_batch SET rows_total = $2, rows_ok = $3, rows_bad = $4, rows_duplicate = $5, persons_new = $6,
           facts_new = $7, facts_ended = $8, conflicts = $9, finished_at = $10 WHERE id = $1",
        &[
            b.clone(),
            Value::Int(gathered.total),
            Value::Int(gathered.ok),
            Value::Int(gathered.bad),
            Value::Int(gathered.dup),
            Value::Int(persons_new),
            Value::Int(facts_new),
            Value::Int(facts_ended),
            Value::Int(conflicts),
            Value::Time(Utc::now()),
        ],
    )?;
    if t.backend() == crate::Backend::Sqlite {
        t.batch("DROP TABLE temp.staging_person; DROP TABLE temp.staging_name")?;
    }
    let row = t
        .query_one(&format!("SELECT {BATCH_COLS} FROM import_batch WHERE id = $1"), &[b])?
        .ok_or_else(|| StoreError::Aborted("batch vanished".into()))?;
    Ok((
        batch_from(&row)?,
        BatchNewcomers {
            numbers: gathered.newcomers,
            ids: newcomer_ids,
        },
    ))
}

#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub id: i64,
    pub id_number: String,
    pub name: String,
    pub sex: i64,
    pub birth_date: NaiveDate,
}

fn person_from(r: &Row) -> Result<Person> {
    Ok(Person {
        id: r.int(0)?,
        id_number: r.text(1)?,
        name: r.text(2)?,
        sex: r.int(3)?,
        birth_date: r.date(4)?,
    })
}

pub fn person(db: &Db, id: i64) -> Result<Option<Person>> {
    db.query_one(
        "SELECT id, id_number, name, sex, birth_date FROM person WHERE id = $1",
        &[Value::Int(id)],
    )?
    .map(|r| person_from(&r))
    .transpose()
}

/// The person, only if they fall within `scope` (any 户籍 or 常住 fact, current or past, in it;
/// see [`crate::accounts::person_in_scope`]). Pages and APIs read people through this.
pub fn person_in(db: &Db, id: i64, scope: &crate::accounts::Scope) -> Result<Option<Person>> {
    let mut params = vec![Value::Int(id)];
    // `|| ''` keeps the planner on the person's own facts (fact_person) rather than scanning
    // the division index over the whole scope.
    let cond = scope.condition("(f.value || '')", &mut params);
    db.query_one(
        &format!(
            "SELECT p.id, p.id_number, p.name, p.sex, p.birth_date FROM person p WHERE p.id = $1 AND EXISTS \
             (SELECT 1 FROM fact f WHERE f.person_id = $1 AND f.kind IN ('hukou', 'residence') AND {cond})"
        ),
        &params,
    )?
    .map(|r| person_from(&r))
    .transpose()
}

pub fn person_by_id_number(db: &Db, id_number: &str) -> Result<Option<Person>> {
    db.query_one(
        "SELECT id, id_number, name, sex, birth_date FROM person WHERE id_number = $1",
        &[Value::text(id_number)],
    )?
    .map(|r| person_from(&r))
    .transpose()
}

#[derive(Debug, Clone, Serialize)]
pub struct FactRecord {
    pub id: i64,
    pub kind: String,
    pub value: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub source: String,
    pub batch_id: i64,
    pub batch_file: String,
    pub batch_started: DateTime<Utc>,
    pub ended_by_batch: Option<i64>,
    pub recorded_at: DateTime<Utc>,
}

impl FactRecord {
    pub fn valid_on(&self, d: NaiveDate) -> bool {
        self.valid_from <= d && self.valid_to.is_none_or(|t| t > d)
    }
}

/// Every fact ever recorded for a person (the whole dated history), oldest first.
pub fn person_facts(db: &Db, person_id: i64) -> Result<Vec<FactRecord>> {
    db.query(
        "SELECT f.id, f.kind, f.value, f.valid_from, f.valid_to, f.source, f.batch_id, b.file_name, b.started_at, f.ended_by_batch, f.recorded_at
         FROM fact f JOIN import_batch b ON b.id = f.batch_id WHERE f.person_id = $1 ORDER BY f.kind, f.valid_from, f.id",
        &[Value::Int(person_id)],
    )?
    .iter()
    .map(|r| {
        Ok(FactRecord {
            id: r.int(0)?,
            kind: r.text(1)?,
            value: r.text(2)?,
            valid_from: r.date(3)?,
            valid_to: r.opt_date(4)?,
            source: r.text(5)?,
            batch_id: r.int(6)?,
            batch_file: r.text(7)?,
            batch_started: r.time(8)?,
            ended_by_batch: r.opt_int(9)?,
            recorded_at: r.time(10)?,
        })
    })
    .collect()
}

/// Pairs of a person's facts that sources disagree on (fact id, other fact id).
pub fn person_conflicts(db: &Db, person_id: i64) -> Result<Vec<(i64, i64)>> {
    db.query(
        "SELECT c.fact_id, c.other_fact_id FROM fact_conflict c JOIN fact f ON f.id = c.fact_id WHERE f.person_id = $1 ORDER BY c.fact_id",
        &[Value::Int(person_id)],
    )?
    .iter()
    .map(|r| Ok((r.int(0)?, r.int(1)?)))
    .collect()
}

#[derive(Debug, Clone, Default)]
pub struct PersonQuery {
    /// Part of a name, or a whole ID number.
    pub text: Option<String>,
    /// Code prefixes the person's 户籍 must fall in on `as_of` (empty: anywhere).
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub as_of: Option<NaiveDate>,
    pub limit: i64,
    pub offset: i64,
    /// The reader's division scope: only people who have lived within it are found.
    pub visible: crate::accounts::Scope,
    pub sort: PersonSort,
}

/// The order of a person list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PersonSort {
    /// Registration order.
    #[default]
    Registered,
    Name,
    /// Oldest first.
    Oldest,
    Youngest,
}

impl PersonSort {
    pub fn parse(s: &str) -> PersonSort {
        match s {
            "name" => PersonSort::Name,
            "oldest" => PersonSort::Oldest,
            "youngest" => PersonSort::Youngest,
            _ => PersonSort::Registered,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            PersonSort::Registered => "",
            PersonSort::Name => "name",
            PersonSort::Oldest => "oldest",
            PersonSort::Youngest => "youngest",
        }
    }
    fn order_by(self) -> &'static str {
        match self {
            PersonSort::Registered => "p.id",
            PersonSort::Name => "p.name, p.id",
            PersonSort::Oldest => "p.birth_date, p.id",
            PersonSort::Youngest => "p.birth_date DESC, p.id",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PersonListRow {
    pub id: i64,
    pub id_number: String,
    pub name: String,
    pub sex: i64,
    pub birth_date: NaiveDate,
    pub hukou: Option<String>,
    pub died: Option<NaiveDate>,
}

/// Range bounds for a code prefix on 12-digit text codes, so that the (kind, value) index is
/// used on both databases (`LIKE` is not, on PostgreSQL with a non-C collation).
fn prefix_range(p: &str) -> (String, String) {
    (p.to_string(), format!("{p}:"))
}

pub fn search_persons(db: &Db, q: &PersonQuery) -> Result<(Vec<PersonListRow>, i64)> {
    let as_of = q
        .as_of
        .unwrap_or(NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX));
    let mut params: Vec<Value> = vec![Value::Date(as_of)];
    // Nobody born after the date is in the registry on that date (this also uses $1 in every
    // query built here, which PostgreSQL requires of each parameter).
    let mut wheres: Vec<String> = vec!["p.birth_date <= $1".to_string()];
    if let Some(text) = q.text.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if text.len() >= 15 && text.chars().all(|c| c.is_ascii_digit() || c == 'X' || c == 'x') {
            params.push(Value::text(text.to_ascii_uppercase()));
            wheres.push(format!("p.id_number = ${}", params.len()));
        } else {
            params.push(Value::text(format!("%{}%", text.replace(['%', '_'], ""))));
            wheres.push(format!("p.name LIKE ${}", params.len()));
        }
    }
    if !q.include.is_empty() {
        let mut ors = Vec::new();
        for p in &q.include {
            let (lo, hi) = prefix_range(p);
            params.push(Value::Text(lo));
            params.push(Value::Text(hi));
            ors.push(format!(
                "(h.value >= ${} AND h.value < ${})",
                params.len() - 1,
                params.len()
            ));
        }
        let mut cond = format!("({})", ors.join(" OR "));
        for p in &q.exclude {
            let (lo, hi) = prefix_range(p);
            params.push(Value::Text(lo));
            params.push(Value::Text(hi));
            cond.push_str(&format!(
                " AND NOT (h.value >= ${} AND h.value < ${})",
                params.len() - 1,
                params.len()
            ));
        }
        wheres.push(format!(
            "p.id IN (SELECT h.person_id FROM fact h WHERE h.kind = 'hukou' AND h.valid_from <= $1 AND (h.valid_to IS NULL OR h.valid_to > $1) AND {cond})"
        ));
    }
    if !q.visible.is_everywhere() {
        let cond = q.visible.condition("v.value", &mut params);
        wheres.push(format!(
            "p.id IN (SELECT v.person_id FROM fact v WHERE v.kind IN ('hukou', 'residence') AND {cond})"
        ));
    }
    let where_sql = if wheres.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", wheres.join(" AND "))
    };
    let total = db
        .query_one(&format!("SELECT COUNT(*) FROM person p {where_sql}"), &params)?
        .map(|r| r.int(0))
        .transpose()?
        .unwrap_or(0);
    let n = params.len();
    params.push(Value::Int(q.limit.clamp(1, 500)));
    params.push(Value::Int(q.offset.max(0)));
    let rows = db.query(
        &format!(
            "SELECT p.id, p.id_number, p.name, p.sex, p.birth_date,
               (SELECT h.value FROM fact h WHERE h.person_id = p.id AND h.kind = 'hukou' AND h.valid_from <= $1
                  AND (h.valid_to IS NULL OR h.valid_to > $1) ORDER BY h.valid_from DESC LIMIT 1),
               (SELECT MIN(d.valid_from) FROM fact d WHERE d.person_id = p.id AND d.kind = 'death')
             FROM person p {where_sql} ORDER BY {} LIMIT ${} OFFSET ${}",
            q.sort.order_by(),
            n + 1,
            n + 2
        ),
        &params,
    )?;
    let list = rows
        .iter()
        .map(|r| {
            Ok(PersonListRow {
                id: r.int(0)?,
                id_number: r.text(1)?,
                name: r.text(2)?,
                sex: r.int(3)?,
                birth_date: r.date(4)?,
                hukou: r.opt_text(5)?,
                died: r.opt_date(6)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((list, total))
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Counts {
    pub persons: i64,
    pub facts: i64,
    pub batches: i64,
    pub conflicts: i64,
}

pub fn counts(db: &Db) -> Result<Counts> {
    let r = db.query_one(
        "SELECT (SELECT COUNT(*) FROM person), (SELECT COUNT(*) FROM fact), (SELECT COUNT(*) FROM import_batch), (SELECT COUNT(*) FROM fact_conflict)",
        &[],
    )?;
    match r {
        Some(r) => Ok(Counts {
            persons: r.int(0)?,
            facts: r.int(1)?,
            batches: r.int(2)?,
            conflicts: r.int(3)?,
        }),
        None => Ok(Counts::default()),
    }
}

/// Facts with `kind` current on `as_of`, with their persons; used by tests and statistics.
pub fn count_current(db: &Db, kind: &str, as_of: NaiveDate) -> Result<i64> {
    Ok(db
        .query_one(
            "SELECT COUNT(DISTINCT person_id) FROM fact WHERE kind = $1 AND valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2)",
            &[Value::text(kind), Value::Date(as_of)],
        )?
        .map(|r| r.int(0))
        .transpose()?
        .unwrap_or(0))
}
