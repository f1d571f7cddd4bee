//! The scheduler: turns cron ticks into ledger jobs. It re-reads tenants and crons every
//! `reload_interval` (a new tenant or an edited cron takes effect without a restart), and
//! skips a tick, counting it, while the previous run of the same job is still live or while ops
//! paused the tenant's module.

use crate::catalog::{CronSource, ModuleSpec};
use crate::cron::SpringCron;
use avni_int_shared::metrics::Metrics;
use avni_int_shared::store::ledger::{self, NewJob};
use avni_int_shared::store::{pauses, schedule_state, tenants, Store, StoreError};
use avni_int_shared::{IntegrationSystemId, JobId, JobKind, JobTrigger, ModuleName};
use chrono::{DateTime, FixedOffset, Utc};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// One schedule: a tenant's regular or error job of a module.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScheduleKey {
    pub tenant: IntegrationSystemId,
    pub module: ModuleName,
    pub kind: JobKind,
}

#[derive(Debug, Clone)]
struct Entry {
    cron: SpringCron,
    next_fire: Option<DateTime<Utc>>,
}

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub fired: Vec<(ScheduleKey, JobId)>,
    /// Ticks that found the previous run still live.
    pub skipped: Vec<ScheduleKey>,
    /// Ticks of a paused (tenant, module).
    pub paused: Vec<ScheduleKey>,
}

pub struct SchedulerConfig {
    pub catalog: Vec<ModuleSpec>,
    /// `AVNI_INT_ENV`: tenant-configured modules run only for tenants whose `int_env` equals it.
    pub int_env: Option<String>,
    pub cron_offset: FixedOffset,
    pub reload_interval: Duration,
    /// A tick missed while no leader was running is fired late if it is at most this old.
    pub catch_up_window: Duration,
}

pub struct Scheduler {
    store: Store,
    config: SchedulerConfig,
    metrics: Metrics,
    entries: HashMap<ScheduleKey, Entry>,
    loaded_at: Option<DateTime<Utc>>,
    /// Problems already logged, so a bad cron is reported once per change, not every reload.
    reported: HashSet<String>,
    /// Paused (tenant, module) as of the last reload.
    paused: HashSet<(IntegrationSystemId, String)>,
    /// Pauses whose skipping was already logged (once per pause, not every tick).
    pause_logged: HashSet<(IntegrationSystemId, String)>,
}

impl Scheduler {
    pub fn build(store: Store, config: SchedulerConfig, metrics: Metrics) -> Self {
        Scheduler {
            store,
            config,
            metrics,
            entries: HashMap::new(),
            loaded_at: None,
            reported: HashSet::new(),
            paused: HashSet::new(),
            pause_logged: HashSet::new(),
        }
    }

    /// Forgets everything loaded; the next tick reloads from the database. Called when this
    /// dispatcher loses the leadership, so a later win starts from the database's state.
    pub fn reset(&mut self) {
        self.entries.clear();
        self.loaded_at = None;
    }

    /// The schedules currently loaded and their next fire time.
    pub fn planned(&self) -> Vec<(ScheduleKey, String, Option<DateTime<Utc>>)> {
        let mut planned: Vec<_> = self
            .entries
            .iter()
            .map(|(k, e)| (k.clone(), e.cron.expression().to_owned(), e.next_fire))
            .collect();
        planned.sort_by(|a, b| a.0.cmp(&b.0));
        planned
    }

    /// The next instant a tick is due, for the caller's sleep.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.entries.values().filter_map(|e| e.next_fire).min()
    }

    /// Reloads if due, then fires every schedule whose time has come.
    pub async fn tick_once(&mut self, now: DateTime<Utc>) -> Result<TickReport, StoreError> {
        let reload_due = self.loaded_at.is_none_or(|at| {
            now.signed_duration_since(at).to_std().unwrap_or_default()
                >= self.config.reload_interval
        });
        if reload_due {
            self.reload(now).await?;
        }
        let due: Vec<(ScheduleKey, DateTime<Utc>)> = self
            .entries
            .iter()
            .filter_map(|(k, e)| e.next_fire.filter(|t| *t <= now).map(|t| (k.clone(), t)))
            .collect();
        let mut report = TickReport::default();
        for (key, tick) in due {
            match self.fire(&key, tick).await? {
                TickResult::Created(job) => report.fired.push((key.clone(), job)),
                TickResult::SkippedOverlap => report.skipped.push(key.clone()),
                TickResult::SkippedPaused => report.paused.push(key.clone()),
                TickResult::AlreadyTaken => {}
            }
            if let Some(entry) = self.entries.get_mut(&key) {
                entry.next_fire = entry.cron.next_after(now);
            }
        }
        Ok(report)
    }

    async fn fire(
        &mut self,
        key: &ScheduleKey,
        tick: DateTime<Utc>,
    ) -> Result<TickResult, StoreError> {
        let mut tx = self.store.pool().begin().await?;
        if !schedule_state::claim_tick(&mut tx, key.tenant, &key.module, key.kind, tick).await? {
            return Ok(TickResult::AlreadyTaken);
        }
        // Checked here as well as at reload: a pause pressed just before the tick must win.
        let pause_key = (key.tenant, key.module.as_str().to_owned());
        if pauses::is_paused(&mut *tx, key.tenant, &key.module).await? {
            schedule_state::record_skip(&mut tx, key.tenant, &key.module, key.kind).await?;
            tx.commit().await?;
            self.metrics
                .schedule_skipped_total
                .with_label_values(&[key.module.as_str(), "paused"])
                .inc();
            if self.pause_logged.insert(pause_key) {
                tracing::info!(tenant = %key.tenant, module = %key.module, kind = %key.kind, %tick,
                    "skipped: the module is paused for this tenant (further skips not logged until it is resumed)");
            }
            return Ok(TickResult::SkippedPaused);
        }
        self.pause_logged.remove(&pause_key);
        let job = NewJob {
            integration_system_id: key.tenant,
            module: key.module.clone(),
            kind: key.kind,
            trigger: JobTrigger::Schedule,
            parent: None,
            resume_step: None,
        };
        let fired = match ledger::enqueue(&mut tx, &job).await? {
            Some(id) => {
                tracing::info!(tenant = %key.tenant, module = %key.module, kind = %key.kind, job_id = %id, %tick, "scheduled");
                self.metrics
                    .schedule_fired_total
                    .with_label_values(&[key.module.as_str(), key.kind.as_str()])
                    .inc();
                TickResult::Created(id)
            }
            None => {
                schedule_state::record_skip(&mut tx, key.tenant, &key.module, key.kind).await?;
                tracing::info!(tenant = %key.tenant, module = %key.module, kind = %key.kind, %tick,
                    "skipped: the previous run is still scheduled, queued or running");
                self.metrics
                    .schedule_skipped_total
                    .with_label_values(&[key.module.as_str(), "overlap"])
                    .inc();
                TickResult::SkippedOverlap
            }
        };
        tx.commit().await?;
        Ok(fired)
    }

    async fn reload(&mut self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let system_types: Vec<String> = self
            .config
            .catalog
            .iter()
            .map(|s| s.system_type.clone())
            .collect();
        let sources = tenants::schedule_sources(self.store.pool(), &system_types).await?;
        let paused = pauses::paused_set(self.store.pool()).await?;
        for resumed in self.paused.difference(&paused) {
            tracing::info!(tenant = %resumed.0, module = %resumed.1, "module resumed: its ticks fire again");
        }
        self.pause_logged.retain(|key| paused.contains(key));
        self.paused = paused;
        let last_fired = self.last_fired().await?;
        let mut wanted: HashMap<ScheduleKey, SpringCron> = HashMap::new();
        let catalog = self.config.catalog.clone();
        for spec in &catalog {
            for tenant in sources.iter().filter(|t| t.system_type == spec.system_type) {
                let (main, error) = match &spec.crons {
                    CronSource::Env { main, error } => (main.clone(), error.clone()),
                    CronSource::TenantConfig => {
                        if !self.env_matches(tenant, spec) {
                            continue;
                        }
                        (tenant.main_cron.clone(), tenant.error_cron.clone())
                    }
                };
                for (kind, expression) in [(JobKind::Regular, main), (JobKind::Error, error)] {
                    let Some(expression) = expression else {
                        continue;
                    };
                    let key = ScheduleKey {
                        tenant: tenant.id,
                        module: spec.module.clone(),
                        kind,
                    };
                    match SpringCron::parse(&expression, self.config.cron_offset) {
                        Ok(Some(cron)) => {
                            wanted.insert(key, cron);
                        }
                        Ok(None) => {}
                        Err(error) => self.report_once(
                            format!("{key:?}{expression}"),
                            || tracing::error!(tenant = %tenant.id, tenant_name = %tenant.name, module = %spec.module, %kind, %error,
                                "schedule ignored: fix the cron in the tenant's configuration"),
                        ),
                    }
                }
            }
        }
        let catch_up = chrono::Duration::from_std(self.config.catch_up_window).unwrap_or_default();
        let mut entries = HashMap::with_capacity(wanted.len());
        for (key, cron) in wanted {
            let entry = match self.entries.remove(&key) {
                Some(existing) if existing.cron == cron => existing,
                previous => {
                    let base = last_fired
                        .get(&key)
                        .copied()
                        .filter(|fired| *fired >= now - catch_up)
                        .unwrap_or(now);
                    if previous.is_some() {
                        tracing::info!(tenant = %key.tenant, module = %key.module, kind = %key.kind, cron = cron.expression(), "cron changed");
                    }
                    Entry {
                        next_fire: cron.next_after(base),
                        cron,
                    }
                }
            };
            entries.insert(key, entry);
        }
        for removed in self.entries.keys() {
            tracing::info!(tenant = %removed.tenant, module = %removed.module, kind = %removed.kind, "schedule removed");
        }
        self.entries = entries;
        self.loaded_at = Some(now);
        Ok(())
    }

    fn env_matches(&mut self, tenant: &tenants::ScheduleSource, spec: &ModuleSpec) -> bool {
        let matches = match (&tenant.int_env, &self.config.int_env) {
            (Some(theirs), Some(ours)) => theirs.trim() == ours.trim(),
            _ => false,
        };
        if !matches {
            let theirs = tenant.int_env.clone().unwrap_or_else(|| "(unset)".into());
            let ours = self
                .config
                .int_env
                .clone()
                .unwrap_or_else(|| "(unset)".into());
            self.report_once(format!("env:{}:{theirs}:{ours}", tenant.id), || {
                tracing::info!(tenant = %tenant.id, tenant_name = %tenant.name, module = %spec.module,
                    int_env = %theirs, avni_int_env = %ours,
                    "tenant not scheduled here: its int_env differs from AVNI_INT_ENV");
            });
        }
        matches
    }

    fn report_once(&mut self, key: String, log: impl FnOnce()) {
        if self.reported.insert(key) {
            log();
        }
    }

    async fn last_fired(&self) -> Result<HashMap<ScheduleKey, DateTime<Utc>>, StoreError> {
        let rows = schedule_state::last_fired_all(self.store.pool()).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(tenant, module, kind, fired)| {
                Some((
                    ScheduleKey {
                        tenant,
                        module: module.parse().ok()?,
                        kind: kind.parse().ok()?,
                    },
                    fired,
                ))
            })
            .collect())
    }
}

enum TickResult {
    Created(JobId),
    SkippedOverlap,
    /// Ops paused the tenant's module.
    SkippedPaused,
    /// Another leader already recorded this tick (a hand-over moment).
    AlreadyTaken,
}
