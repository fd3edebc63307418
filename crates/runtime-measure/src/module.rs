//! The `measurement` module: state, gas and dispatch around [`crate::rules`].
//!
//! State: parameters at `measurement || 0x00`; the task counter at
//! `measurement || 0x01`; a task at `measurement || 0x02 || task id`; a
//! revealed share at `measurement || 0x03 || task id || index`.

use atoll_measure::{AggregateShare, TaskId};
use atoll_runtime_sdk::context::{Context, QueryContext};
use atoll_runtime_sdk::error::{Error, FatalError, ModuleError};
use atoll_runtime_sdk::module::{MethodInfo, Module, decode_body, decode_genesis, encode_result};
use atoll_runtime_sdk::modules::core::CoreError;
use atoll_runtime_sdk::state::{self, Store, StoreExt};
use atoll_types::cbor::Value;
use serde::{Deserialize, Serialize};

pub use crate::rules::MeasurementError;
use crate::rules::{self, Revealed};
use crate::types::{
    CommitBatch, CommitShare, CreateTask, RevealShare, Status, Task, TaskEvent, TaskRef, events,
};

/// The module's name.
pub const MODULE_NAME: &str = "measurement";

const COUNTER: u8 = 0x01;
const TASKS: u8 = 0x02;
const SHARES: u8 = 0x03;

impl ModuleError for MeasurementError {
    const MODULE: &'static str = MODULE_NAME;

    fn code(&self) -> u32 {
        match self {
            Self::InvalidArgument(_) => 1,
            Self::NotFound => 2,
            Self::Forbidden(_) => 3,
            Self::WrongPhase(_) => 4,
            Self::AlreadyDone(_) => 5,
            Self::TooManyBatches => 6,
        }
    }
}

impl From<MeasurementError> for Error {
    fn from(e: MeasurementError) -> Self {
        Error::Tx(e.to_tx_error())
    }
}

/// Gas costs of `measurement`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GasCosts {
    /// `CreateTask`, plus [`GasCosts::per_party`] per facilitator and input party.
    pub create_task: u64,
    /// Per facilitator and input party of a new task.
    pub per_party: u64,
    /// `CommitBatch`.
    pub commit_batch: u64,
    /// `CommitShare`.
    pub commit_share: u64,
    /// `RevealShare`, plus [`GasCosts::share_byte`] per byte of the share.
    pub reveal_share: u64,
    /// Per byte of a revealed share (the last reveal combines them all).
    pub share_byte: u64,
    /// `Close`.
    pub close: u64,
}

/// Parameters of `measurement`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    /// Gas costs.
    pub gas_costs: GasCosts,
}

impl Default for Parameters {
    fn default() -> Self {
        Self {
            gas_costs: GasCosts {
                create_task: 20_000,
                per_party: 2_000,
                commit_batch: 5_000,
                commit_share: 5_000,
                reveal_share: 5_000,
                share_byte: 20,
                close: 5_000,
            },
        }
    }
}

/// Genesis of `measurement`: its parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// The parameters.
    pub parameters: Parameters,
}

fn task_key(id: &TaskId) -> Vec<u8> {
    state::module_key(MODULE_NAME, TASKS, &[&id.0])
}

fn share_key(id: &TaskId, index: usize) -> Vec<u8> {
    state::module_key(MODULE_NAME, SHARES, &[&id.0, &[index as u8]])
}

#[derive(Serialize, Deserialize)]
struct StoredShare(#[serde(with = "serde_bytes")] Vec<u8>);

/// The current parameters.
pub fn params(store: &dyn Store) -> Result<Parameters, FatalError> {
    state::get_params(store, MODULE_NAME)
}

/// A task, if registered.
pub fn task(store: &dyn Store, id: &TaskId) -> Result<Option<Task>, FatalError> {
    store.get_typed(&task_key(id))
}

/// A facilitator's revealed share of a task, if revealed.
pub fn revealed_share(
    store: &dyn Store,
    id: &TaskId,
    index: usize,
) -> Result<Option<Vec<u8>>, FatalError> {
    Ok(store
        .get_typed::<StoredShare>(&share_key(id, index))?
        .map(|s| s.0))
}

fn load(store: &dyn Store, id: &TaskId) -> Result<Task, Error> {
    task(store, id)?.ok_or_else(|| MeasurementError::NotFound.into())
}

fn save(ctx: &mut Context<'_>, task: &Task) -> Result<(), Error> {
    ctx.store().put_typed(&task_key(&task.id), task)?;
    Ok(())
}

fn emit(ctx: &mut Context<'_>, code: u32, task: TaskId) -> Result<(), Error> {
    let by = ctx.caller()?;
    ctx.emit_event(MODULE_NAME, code, &TaskEvent { task, by })
}

/// Emits `Published` or `Failed` when the call ended the task.
fn emit_outcome(ctx: &mut Context<'_>, task: &Task) -> Result<(), Error> {
    match task.status {
        Status::Open => Ok(()),
        Status::Published { .. } => emit(ctx, events::PUBLISHED, task.id),
        Status::Failed { .. } => emit(ctx, events::FAILED, task.id),
    }
}

/// The `measurement` module.
#[derive(Debug, Default, Clone, Copy)]
pub struct Measurement;

impl Measurement {
    fn create(ctx: &mut Context<'_>, spec: CreateTask) -> Result<Value, Error> {
        let round = ctx.batch().round;
        rules::validate_create(&spec, round)?;
        let counter_key = state::module_key(MODULE_NAME, COUNTER, &[]);
        let counter: u64 = ctx.store_ref().get_typed(&counter_key)?.unwrap_or_default();
        let next = counter
            .checked_add(1)
            .ok_or_else(|| FatalError::Invariant("task counter overflow".into()))?;
        ctx.store().put_typed(&counter_key, &next)?;
        let id = rules::task_id(counter);
        let creator = ctx.caller()?;
        let task = rules::new_task(id, creator, round, spec);
        save(ctx, &task)?;
        emit(ctx, events::TASK_CREATED, id)?;
        encode_result(&id)
    }

    fn reveal(ctx: &mut Context<'_>, body: RevealShare) -> Result<Value, Error> {
        let round = ctx.batch().round;
        let who = ctx.caller()?;
        let mut task = load(ctx.store_ref(), &body.task)?;
        match rules::reveal_share(&mut task, who, &body.share, round)? {
            Revealed::Lied => {}
            Revealed::Stored { index, last } => {
                ctx.store()
                    .put_typed(&share_key(&task.id, index), &StoredShare(body.share))?;
                emit(ctx, events::SHARE_REVEALED, task.id)?;
                if last {
                    let mut shares = Vec::with_capacity(task.commitments.len());
                    for (i, c) in task.commitments.iter().enumerate() {
                        let bytes =
                            revealed_share(ctx.store_ref(), &task.id, i)?.ok_or_else(|| {
                                FatalError::Invariant("a revealed share is missing".into())
                            })?;
                        let report_count = c.as_ref().map_or(0, |c| c.report_count);
                        shares.push(AggregateShare {
                            report_count,
                            bytes,
                        });
                    }
                    rules::publish(&mut task, &shares, round);
                }
            }
        }
        save(ctx, &task)?;
        emit_outcome(ctx, &task)?;
        Ok(Value::Null)
    }
}

impl Module for Measurement {
    fn name(&self) -> &'static str {
        MODULE_NAME
    }

    fn methods(&self) -> Vec<MethodInfo> {
        vec![
            MethodInfo::call("measurement.CreateTask"),
            MethodInfo::call("measurement.CommitBatch"),
            MethodInfo::call("measurement.CommitShare"),
            MethodInfo::call("measurement.RevealShare"),
            MethodInfo::call("measurement.Close"),
            MethodInfo::query("measurement.Task"),
            MethodInfo::query("measurement.RevealedShares"),
        ]
    }

    fn init_genesis(&self, store: &mut dyn Store, genesis: Option<&Value>) -> Result<(), Error> {
        let g: Genesis = decode_genesis(MODULE_NAME, genesis)?;
        state::set_params(store, MODULE_NAME, &g.parameters)?;
        Ok(())
    }

    fn dispatch_call(
        &self,
        ctx: &mut Context<'_>,
        method: &str,
        body: Value,
    ) -> Result<Value, Error> {
        let gas = params(ctx.store_ref())?.gas_costs;
        match method {
            "measurement.CreateTask" => {
                ctx.use_gas(gas.create_task)?;
                let spec: CreateTask = decode_body(body)?;
                let parties = (spec.facilitators.len() + spec.input_parties.len()) as u64;
                ctx.use_gas(gas.per_party.saturating_mul(parties))?;
                Self::create(ctx, spec)
            }
            "measurement.CommitBatch" => {
                ctx.use_gas(gas.commit_batch)?;
                let b: CommitBatch = decode_body(body)?;
                let mut task = load(ctx.store_ref(), &b.task)?;
                let (who, round) = (ctx.caller()?, ctx.batch().round);
                rules::commit_batch(&mut task, who, &b, round)?;
                save(ctx, &task)?;
                emit(ctx, events::BATCH_COMMITTED, task.id)?;
                Ok(Value::Null)
            }
            "measurement.CommitShare" => {
                ctx.use_gas(gas.commit_share)?;
                let b: CommitShare = decode_body(body)?;
                let mut task = load(ctx.store_ref(), &b.task)?;
                let (who, round) = (ctx.caller()?, ctx.batch().round);
                rules::commit_share(&mut task, who, &b, round)?;
                save(ctx, &task)?;
                emit(ctx, events::SHARE_COMMITTED, task.id)?;
                emit_outcome(ctx, &task)?;
                Ok(Value::Null)
            }
            "measurement.RevealShare" => {
                ctx.use_gas(gas.reveal_share)?;
                let b: RevealShare = decode_body(body)?;
                ctx.use_gas(gas.share_byte.saturating_mul(b.share.len() as u64))?;
                Self::reveal(ctx, b)
            }
            "measurement.Close" => {
                ctx.use_gas(gas.close)?;
                let b: TaskRef = decode_body(body)?;
                let mut task = load(ctx.store_ref(), &b.task)?;
                rules::close(&mut task, ctx.batch().round)?;
                save(ctx, &task)?;
                emit_outcome(ctx, &task)?;
                Ok(Value::Null)
            }
            _ => Err(CoreError::InvalidMethod(method.to_owned()).into()),
        }
    }

    fn dispatch_query(
        &self,
        ctx: &QueryContext<'_>,
        method: &str,
        args: Value,
    ) -> Result<Value, Error> {
        match method {
            "measurement.Task" => {
                let q: TaskRef = decode_body(args)?;
                encode_result(&load(ctx.store, &q.task)?)
            }
            "measurement.RevealedShares" => {
                let q: TaskRef = decode_body(args)?;
                let task = load(ctx.store, &q.task)?;
                let mut shares = Vec::new();
                for i in 0..task.commitments.len() {
                    shares.push(
                        revealed_share(ctx.store, &q.task, i)?.map(serde_bytes::ByteBuf::from),
                    );
                }
                encode_result(&shares)
            }
            _ => Err(CoreError::InvalidMethod(method.to_owned()).into()),
        }
    }
}
