//! Importing one ordered copy (does file and network I/O): each file is downloaded by ranges
//! from its sources, several at once, each range a verification unit (`units`) checked before it
//! is written; what is verified is recorded (`progress`) so that a restart resumes without
//! fetching it again. A file is written under `.partial/` and moved into place only when whole
//! and verified. Sources are asked in the order's order (the origin, then other caches); a part
//! that fails its hash is fetched again from another source. A source that keeps sending bad
//! data, or that will not serve the file as ordered, is dropped for the next; when none is left
//! the copy fails with the reason, its partial files kept for a later order to resume.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Mutex as AsyncMutex;
use vidseed_shared::fetch::{FetchFile, FetchOrder, FetchReport, FetchState, FileCheck};

use super::progress::Progress;
use super::source::{Frames, Source, SourceError};
use super::units::{units, Check, Unit};

/// Bad units from one source before it is dropped.
const MAX_BAD_FROM_SOURCE: u32 = 3;
/// Tries of one unit on passing failures before the next source is tried.
const TRIES_PER_SOURCE: u32 = 3;
/// How often progress is saved and reported while downloading.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Where copies live on this node.
pub fn partial_dir(cache: &Path) -> PathBuf {
    cache.join(".partial")
}

/// A relative, '/'-separated path with no `..`, no root, no empty or hidden component.
pub fn safe_relative(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    let ok = !path.is_empty()
        && p.components().all(|c| matches!(c, Component::Normal(s) if !s.to_string_lossy().starts_with('.')))
        && !path.contains('\\');
    ok.then(|| p.to_path_buf())
}

fn hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The order's check as the importer's.
pub fn check_of(f: &FetchFile) -> Result<Check, String> {
    let sha1 = |list: &[String]| list.iter().map(|h| hex::<20>(h).ok_or_else(|| format!("{}: {h:?} is not a SHA-1", f.path))).collect::<Result<Vec<_>, _>>();
    Ok(match &f.check {
        FileCheck::Pieces { piece_length, sha1: hashes } => Check::Pieces { piece_length: *piece_length, sha1: sha1(hashes)? },
        FileCheck::Sha256 { sha256 } => Check::Sha256(hex::<32>(sha256).ok_or_else(|| format!("{}: {sha256:?} is not a SHA-256", f.path))?),
        FileCheck::Segments { segments, piece_length, sha1: hashes } => Check::Segments {
            segments: segments
                .iter()
                .map(|s| Ok((s.start, s.end, hex::<32>(&s.sha256).ok_or_else(|| format!("{}: {:?} is not a SHA-256", f.path, s.sha256))?)))
                .collect::<Result<_, String>>()?,
            pieces: match piece_length {
                Some(len) => Some((*len, sha1(hashes)?)),
                None => None,
            },
        },
    })
}

/// Tells how the copy is going.
pub type Reporter = Arc<dyn Fn(FetchReport) + Send + Sync>;

/// Downloads every file of `order` into `cache`; returns once all are verified and in place,
/// or with the reason it cannot.
pub async fn import(order: &FetchOrder, cache: &Path, allow_private: bool, report: Reporter) -> Result<(), String> {
    let total: u64 = order.files.iter().map(|f| f.size).sum();
    let done = Arc::new(Mutex::new(0u64));
    let send = |state: FetchState, reason: Option<String>, done_bytes: u64| {
        report(FetchReport { id: order.id.clone(), state, done_bytes, total_bytes: total, reason });
    };
    send(FetchState::Downloading, None, 0);
    let result = async {
        for f in &order.files {
            import_file(order, f, cache, allow_private, &done, &|d| send(FetchState::Downloading, None, d)).await?;
        }
        Ok::<(), String>(())
    }
    .await;
    let done_bytes = *done.lock().unwrap_or_else(|p| p.into_inner());
    match &result {
        Ok(()) => send(FetchState::Serving, None, total),
        Err(e) => send(FetchState::Failed, Some(e.clone()), done_bytes),
    }
    result
}

/// The shared state of one file's workers.
struct Job {
    units: Vec<Unit>,
    progress: Mutex<Progress>,
    queue: Mutex<VecDeque<usize>>,
    file: File,
    sources: AsyncMutex<Vec<SourceSlot>>,
    failure: Mutex<Option<String>>,
}

struct SourceSlot {
    url: String,
    bad: u32,
    gone: Option<String>,
}

async fn import_file(
    order: &FetchOrder,
    f: &FetchFile,
    cache: &Path,
    allow_private: bool,
    done: &Arc<Mutex<u64>>,
    tick: &(dyn Fn(u64) + Sync),
) -> Result<(), String> {
    let rel = safe_relative(&f.path).ok_or_else(|| format!("refused path {:?} in the order", f.path))?;
    let final_path = cache.join(&rel);
    let partial = partial_dir(cache).join(&rel);
    let record = partial.with_extension(format!("{}.progress", partial.extension().and_then(|e| e.to_str()).unwrap_or("")));
    if std::fs::metadata(&final_path).is_ok_and(|m| m.is_file() && m.len() == f.size) {
        if !record.exists() {
            // Verified, and synced to the disk before its record went.
            *done.lock().unwrap_or_else(|p| p.into_inner()) += f.size;
            return Ok(());
        }
        // Moved into place but perhaps never synced (the machine stopped): verified again.
        let units = units(f.size, &check_of(f)?)?;
        let file = File::open(&final_path).map_err(|e| io_reason(&e, &final_path))?;
        let all = Progress::load(&vec![1u8; units.len()], units.len());
        if recheck(all, &units, &file).complete() {
            let _ = std::fs::remove_file(&record);
            *done.lock().unwrap_or_else(|p| p.into_inner()) += f.size;
            return Ok(());
        }
        tracing::warn!(path = %final_path.display(), "a copy lost data in a crash; importing it again");
        if let Some(dir) = partial.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_reason(&e, dir))?;
        }
        std::fs::rename(&final_path, &partial).map_err(|e| io_reason(&e, &partial))?;
    }
    let units = units(f.size, &check_of(f)?)?;
    if let Some(dir) = partial.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_reason(&e, dir))?;
    }
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&partial).map_err(|e| io_reason(&e, &partial))?;
    if file.metadata().map(|m| m.len()).unwrap_or(0) != f.size {
        file.set_len(f.size).map_err(|e| io_reason(&e, &partial))?;
    }
    let progress = recheck(Progress::load(&std::fs::read(&record).unwrap_or_default(), units.len()), &units, &file);
    let already: u64 = (0..units.len()).filter(|&i| progress.is_done(i)).map(|i| units[i].len()).sum();
    *done.lock().unwrap_or_else(|p| p.into_inner()) += already;
    let queue: VecDeque<usize> = (0..units.len()).filter(|&i| !progress.is_done(i)).collect();
    let job = Arc::new(Job {
        units,
        progress: Mutex::new(progress),
        queue: Mutex::new(queue),
        file,
        sources: AsyncMutex::new(f.sources.iter().map(|u| SourceSlot { url: u.clone(), bad: 0, gone: None }).collect()),
        failure: Mutex::new(None),
    });
    let limiter = Arc::new(super::rate::ByteRate::new(order.max_bytes_per_sec));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..order.parallel.clamp(1, 16) {
        let job = Arc::clone(&job);
        let done = Arc::clone(done);
        let limiter = Arc::clone(&limiter);
        let size = f.size;
        workers.spawn(async move { worker(job, size, allow_private, done, limiter).await });
    }
    let mut last_save = Instant::now();
    loop {
        tokio::select! {
            next = workers.join_next() => {
                if next.is_none() {
                    break;
                }
            }
            _ = tokio::time::sleep(SAVE_EVERY) => {}
        }
        if last_save.elapsed() >= SAVE_EVERY {
            save(&job, &record)?;
            tick(*done.lock().unwrap_or_else(|p| p.into_inner()));
            last_save = Instant::now();
        }
    }
    save(&job, &record)?;
    if let Some(reason) = job.failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(reason);
    }
    if !job.progress.lock().unwrap_or_else(|p| p.into_inner()).complete() {
        return Err(format!("{}: not every part could be verified", f.path));
    }
    if let Some(dir) = final_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_reason(&e, dir))?;
    }
    std::fs::rename(&partial, &final_path).map_err(|e| io_reason(&e, &final_path))?;
    // Served from now on; synced in the background, its record kept until then (a machine
    // that stops first verifies the file again, see above).
    let job = Arc::clone(&job);
    tokio::task::spawn_blocking(move || {
        if job.file.sync_all().is_ok() {
            let _ = std::fs::remove_file(&record);
        }
    });
    Ok(())
}

/// Saves what is verified. The data is not synced first (that would cost a disk flush a
/// second): after a crash of the machine, parts the record names are hashed again before they
/// are trusted (see [`recheck`]); the finished file is synced before it is moved into place.
fn save(job: &Job, record: &Path) -> Result<(), String> {
    let bytes = job.progress.lock().unwrap_or_else(|p| p.into_inner()).save();
    let tmp = record.with_extension("tmp");
    std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, record)).map_err(|e| io_reason(&e, record))
}

/// The parts a saved record names as verified, hashed again from the partial file: only those
/// still right are kept (the record may have been written before the data reached the disk).
fn recheck(saved: Progress, units: &[Unit], file: &File) -> Progress {
    let mut kept = Progress::new(units.len());
    let mut buf = Vec::new();
    for (i, u) in units.iter().enumerate() {
        if !saved.is_done(i) {
            continue;
        }
        buf.resize(u.len() as usize, 0);
        if file.read_exact_at(&mut buf, u.start).is_ok() && u.check(&buf) {
            kept.mark(i);
        }
    }
    kept
}

/// A file-system error said for the admin (disk full and read-only named as such).
fn io_reason(e: &std::io::Error, path: &Path) -> String {
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => format!("the cache folder's disk is full ({}): free space, the copy resumes where it stopped", path.display()),
        Some(libc::EROFS) => format!("the cache folder is read-only ({})", path.display()),
        _ => format!("{}: {e}", path.display()),
    }
}

/// Consecutive units fetched by one range request (fewer requests; each unit still checked on
/// its own).
const BATCH_BYTES: u64 = 4 << 20;

/// Takes runs of consecutive units off the queue until it is empty or the copy failed.
async fn worker(job: Arc<Job>, size: u64, allow_private: bool, done: Arc<Mutex<u64>>, limiter: Arc<super::rate::ByteRate>) {
    let mut connections: Vec<Option<Source>> = Vec::new();
    loop {
        if job.failure.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
            return;
        }
        let batch: Vec<(usize, Unit)> = {
            let mut queue = job.queue.lock().unwrap_or_else(|p| p.into_inner());
            let Some(first) = queue.pop_front() else { return };
            let mut batch = vec![(first, job.units[first])];
            let mut bytes = job.units[first].len();
            while let Some(&next) = queue.front() {
                let last = batch[batch.len() - 1].0;
                if next != last + 1 || bytes + job.units[next].len() > BATCH_BYTES {
                    break;
                }
                queue.pop_front();
                bytes += job.units[next].len();
                batch.push((next, job.units[next]));
            }
            batch
        };
        match fetch_batch(&job, &batch, size, allow_private, &mut connections, &limiter).await {
            Ok(good) => {
                for (i, frames) in good {
                    let unit = job.units[i];
                    for (at, part) in frames.slices(unit.start, unit.end) {
                        if let Err(e) = job.file.write_all_at(part, at) {
                            *job.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(io_reason(&e, Path::new("the partial file")));
                            return;
                        }
                    }
                    job.progress.lock().unwrap_or_else(|p| p.into_inner()).mark(i);
                    *done.lock().unwrap_or_else(|p| p.into_inner()) += unit.len();
                }
            }
            Err(reason) => {
                let mut failure = job.failure.lock().unwrap_or_else(|p| p.into_inner());
                failure.get_or_insert(reason);
                return;
            }
        }
    }
}

/// A run of units, each verified: one range covering them from the first source still usable;
/// units that fail their hash are fetched again from another source when the file has one (else
/// from the same), the source that sent them dropped when it keeps sending bad data or refuses.
async fn fetch_batch(
    job: &Job,
    batch: &[(usize, Unit)],
    size: u64,
    allow_private: bool,
    connections: &mut Vec<Option<Source>>,
    limiter: &super::rate::ByteRate,
) -> Result<Vec<(usize, Arc<Frames>)>, String> {
    let mut pending: Vec<(usize, Unit)> = batch.to_vec();
    let mut good = Vec::with_capacity(batch.len());
    // The source that just sent bad bytes for what is pending: another is asked first.
    let mut avoid: Option<usize> = None;
    while !pending.is_empty() {
        let (index, url) = {
            let sources = job.sources.lock().await;
            let mut usable = sources.iter().enumerate().filter(|(_, s)| s.gone.is_none());
            let pick = match avoid {
                Some(bad) => sources.iter().enumerate().find(|(i, s)| s.gone.is_none() && *i != bad).or_else(|| usable.next()),
                None => usable.next(),
            };
            match pick {
                Some((i, s)) => (i, s.url.clone()),
                None => {
                    let why: Vec<String> = sources.iter().filter_map(|s| s.gone.clone()).collect();
                    return Err(format!("no source left: {}", why.join("; ")));
                }
            }
        };
        if connections.len() <= index {
            connections.resize_with(index + 1, || None);
        }
        if connections[index].is_none() {
            match Source::new(&url, size, allow_private) {
                Ok(s) => connections[index] = Some(s),
                Err(e) => {
                    job.sources.lock().await[index].gone = Some(e.to_string());
                    continue;
                }
            }
        }
        let start = pending.iter().map(|(_, u)| u.start).min().unwrap_or(0);
        let end = pending.iter().map(|(_, u)| u.end).max().unwrap_or(0);
        for attempt in 0..TRIES_PER_SOURCE {
            limiter.take(end - start + 1).await;
            let Some(source) = connections[index].as_mut() else { break };
            match source.range(start, end).await {
                Ok(frames) => {
                    let frames = Arc::new(frames);
                    let mut failed = 0;
                    pending.retain(|(i, u)| {
                        if u.check_parts(frames.slices(u.start, u.end).map(|(_, p)| p)) {
                            good.push((*i, Arc::clone(&frames)));
                            false
                        } else {
                            failed += 1;
                            true
                        }
                    });
                    if failed > 0 {
                        avoid = Some(index);
                        let mut sources = job.sources.lock().await;
                        let slot = &mut sources[index];
                        slot.bad += 1;
                        tracing::warn!(source = %url, start, end, failed, "parts failed their hash; fetching them again, from another source if there is one");
                        if slot.bad >= MAX_BAD_FROM_SOURCE {
                            slot.gone = Some(format!("{url} kept sending bad data ({} ranges had parts that failed their hash)", slot.bad));
                        }
                    }
                    break;
                }
                Err(SourceError::Refused(e)) => {
                    job.sources.lock().await[index].gone = Some(e);
                    break;
                }
                Err(SourceError::Passing(e)) => {
                    tracing::debug!(source = %url, "range failed ({e}); retrying");
                    if attempt + 1 == TRIES_PER_SOURCE {
                        let mut sources = job.sources.lock().await;
                        // Another source may do better; with none, this one stays and the copy
                        // fails only when every source is gone.
                        if sources.iter().filter(|s| s.gone.is_none()).count() > 1 {
                            sources[index].gone = Some(format!("{url}: {e}"));
                        } else {
                            return Err(format!("{url}: {e}"));
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
            }
        }
    }
    Ok(good)
}

#[cfg(test)]
mod tests;
