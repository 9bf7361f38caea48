//! Static code limits, checked before anything is compiled.
//!
//! Threat model: compiling is the one step of an upload that runs before any sandbox limit
//! applies, and Cranelift's cost is not linear in the input. One function holding 100k live
//! values kept the server compiling for ten minutes; 100k nested blocks took five minutes
//! and 600 MB; 75k functions took 23 s. So every core module inside an uploaded component is
//! validated here first, one operator at a time, and refused with the exact limit it
//! breaks: functions, code bytes (per function and in all), locals, operand-stack height
//! ("live values") and control nesting. Validation is linear in the input and needs no
//! compiler. What a guest can still do: stay just under every limit, which the compile
//! budget (`compile.rs`: a child process under a time and memory limit) then bounds.

use super::limits::CodeLimits;
use wasmparser::{
    FuncValidatorAllocations, OperatorsReader, Parser, Payload, ValidPayload, Validator,
};

/// What the checker saw, for `plugin check` and the benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CodeStats {
    /// Core modules in the component.
    pub modules: u32,
    /// Functions with a body, across modules.
    pub functions: u32,
    /// Bytes of function bodies, across modules.
    pub code_bytes: usize,
    /// The largest function body, bytes.
    pub max_function_bytes: usize,
    /// The most locals one function declares.
    pub max_locals: u64,
    /// The highest operand stack one function reaches.
    pub max_operand_stack: u32,
    /// The deepest control nesting one function reaches.
    pub max_nesting: u32,
}

/// A code limit the component breaks. Messages are shown to merchants as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeLimitExceeded {
    #[error("the component defines {found} functions; the limit is {limit}")]
    Functions { found: u64, limit: u32 },
    #[error("the component holds {found} bytes of code; the limit is {limit}")]
    CodeBytes { found: usize, limit: usize },
    /// Over the uploading merchant's allowance (`policy.rs`), which the operator can raise.
    #[error(
        "the component holds {found} bytes of code; this merchant's limit (max_code_bytes) is {limit}; the operator can raise it for the merchant"
    )]
    MerchantCode { found: usize, limit: usize },
    #[error("{at} is {found} bytes of code; the limit for one function is {limit}")]
    FunctionBytes {
        at: FuncAt,
        found: usize,
        limit: usize,
    },
    #[error("{at} declares {found} locals; the limit is {limit}")]
    Locals { at: FuncAt, found: u64, limit: u32 },
    #[error(
        "{at} keeps over {limit} values live on its operand stack (at byte {offset}); the limit is {limit}"
    )]
    OperandStack {
        at: FuncAt,
        offset: usize,
        limit: u32,
    },
    #[error("{at} nests blocks over {limit} deep (at byte {offset}); the limit is {limit}")]
    Nesting {
        at: FuncAt,
        offset: usize,
        limit: u32,
    },
    #[error(
        "core module {module} declares {declared} bytes of initial memory; the limit is {limit} bytes"
    )]
    InitialMemory {
        module: u32,
        declared: u64,
        limit: usize,
    },
    #[error("core module {module} declares a table of {declared} entries; the limit is {limit}")]
    InitialTable {
        module: u32,
        declared: u64,
        limit: u64,
    },
    #[error("invalid component: {0}")]
    Invalid(String),
}

/// Table entries an instance may hold (the memory limiter's table bound).
pub const MAX_TABLE_ELEMENTS: u64 = 10_000;

/// Which function: its index among the bodies of its core module, and that module's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuncAt {
    pub module: u32,
    pub function: u32,
}

impl std::fmt::Display for FuncAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "function {} of core module {}",
            self.function, self.module
        )
    }
}

/// Bytes of function bodies across every core module of `bytes`, read from the code
/// sections' headers without validating anything: what the compile deadline and a
/// merchant's code allowance are measured in. Malformed input counts what was read so far
/// (the full check refuses it).
pub fn code_bytes(bytes: &[u8]) -> usize {
    let mut total = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::CodeSectionStart { size, .. }) => {
                total = total.saturating_add(size as usize)
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    total
}

/// Check every core module of `bytes` against `limits` and the instance memory limit,
/// validating as it goes.
pub fn check(
    bytes: &[u8],
    limits: &CodeLimits,
    memory_limit: usize,
) -> Result<CodeStats, CodeLimitExceeded> {
    let invalid = |e: wasmparser::BinaryReaderError| CodeLimitExceeded::Invalid(e.to_string());
    let mut stats = CodeStats::default();
    let mut validator = Validator::new();
    let mut allocs = FuncValidatorAllocations::default();
    let mut function_in_module = 0u32;
    // Core modules seen so far (a module's memory section comes before its code).
    let mut module_index = 0u32;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(invalid)?;
        let valid = validator.payload(&payload).map_err(invalid)?;
        // Count and size sections as they start, so an oversized one is refused before
        // any of its functions is read.
        match &payload {
            Payload::Version { encoding, .. } => {
                function_in_module = 0;
                if *encoding == wasmparser::Encoding::Module {
                    module_index += 1;
                }
            }
            Payload::MemorySection(memories) => {
                for memory in memories.clone() {
                    let memory = memory.map_err(invalid)?;
                    let page = 1u64
                        .checked_shl(memory.page_size_log2.unwrap_or(16))
                        .unwrap_or(u64::MAX);
                    let declared = memory.initial.saturating_mul(page);
                    if declared > memory_limit as u64 {
                        return Err(CodeLimitExceeded::InitialMemory {
                            module: module_index.saturating_sub(1),
                            declared,
                            limit: memory_limit,
                        });
                    }
                }
            }
            Payload::TableSection(tables) => {
                for table in tables.clone() {
                    let declared = table.map_err(invalid)?.ty.initial;
                    if declared > MAX_TABLE_ELEMENTS {
                        return Err(CodeLimitExceeded::InitialTable {
                            module: module_index.saturating_sub(1),
                            declared,
                            limit: MAX_TABLE_ELEMENTS,
                        });
                    }
                }
            }
            Payload::CodeSectionStart { count, size, .. } => {
                stats.modules += 1;
                let functions = u64::from(stats.functions) + u64::from(*count);
                if functions > u64::from(limits.max_functions) {
                    return Err(CodeLimitExceeded::Functions {
                        found: functions,
                        limit: limits.max_functions,
                    });
                }
                let code = stats.code_bytes.saturating_add(*size as usize);
                if code > limits.max_code_bytes {
                    return Err(CodeLimitExceeded::CodeBytes {
                        found: code,
                        limit: limits.max_code_bytes,
                    });
                }
            }
            _ => {}
        }
        match valid {
            ValidPayload::Func(func, body) => {
                let at = FuncAt {
                    module: module_index.saturating_sub(1),
                    function: function_in_module,
                };
                function_in_module += 1;
                stats.functions += 1;
                let size = body.range().len();
                stats.code_bytes += size;
                stats.max_function_bytes = stats.max_function_bytes.max(size);
                if size > limits.max_function_bytes {
                    return Err(CodeLimitExceeded::FunctionBytes {
                        at,
                        found: size,
                        limit: limits.max_function_bytes,
                    });
                }
                let mut locals = 0u64;
                for decl in body.get_locals_reader().map_err(invalid)? {
                    locals += u64::from(decl.map_err(invalid)?.0);
                }
                stats.max_locals = stats.max_locals.max(locals);
                if locals > u64::from(limits.max_locals) {
                    return Err(CodeLimitExceeded::Locals {
                        at,
                        found: locals,
                        limit: limits.max_locals,
                    });
                }
                let mut v = func.into_validator(allocs);
                let mut reader = body.get_binary_reader();
                v.read_locals(&mut reader).map_err(invalid)?;
                let mut ops = OperatorsReader::new(reader);
                while !ops.eof() {
                    let (op, offset) = ops.read_with_offset().map_err(invalid)?;
                    v.op(offset, &op).map_err(invalid)?;
                    let stack = v.operand_stack_height();
                    if stack > limits.max_operand_stack {
                        return Err(CodeLimitExceeded::OperandStack {
                            at,
                            offset,
                            limit: limits.max_operand_stack,
                        });
                    }
                    let nesting = v.control_stack_height();
                    if nesting > limits.max_nesting {
                        return Err(CodeLimitExceeded::Nesting {
                            at,
                            offset,
                            limit: limits.max_nesting,
                        });
                    }
                    stats.max_operand_stack = stats.max_operand_stack.max(stack);
                    stats.max_nesting = stats.max_nesting.max(nesting);
                }
                ops.finish().map_err(invalid)?;
                allocs = v.into_allocations();
            }
            ValidPayload::Ok | ValidPayload::Parser(_) | ValidPayload::End(_) => {}
        }
    }
    Ok(stats)
}
