// Host functions of proxy-wasm ABI 0.2.1, all from module "env".
// AssemblyScript only emits imports that are actually called, so declaring the
// whole set costs nothing; the filter's import section stays minimal.
// Pointers are guest addresses; `return_*` parameters are guest addresses the
// host writes into (see memory.ts for the scratch slots we use).

@external("env", "proxy_log")
export declare function proxy_log(level: u32, messagePtr: usize, messageSize: usize): u32;
@external("env", "proxy_get_log_level")
export declare function proxy_get_log_level(returnLevel: usize): u32;
@external("env", "proxy_get_current_time_nanoseconds")
export declare function proxy_get_current_time_nanoseconds(returnTime: usize): u32;
@external("env", "proxy_set_tick_period_milliseconds")
export declare function proxy_set_tick_period_milliseconds(period: u32): u32;

@external("env", "proxy_done")
export declare function proxy_done(): u32;
@external("env", "proxy_set_effective_context")
export declare function proxy_set_effective_context(contextId: u32): u32;

@external("env", "proxy_get_buffer_bytes")
export declare function proxy_get_buffer_bytes(bufferType: u32, start: usize, maxSize: usize, returnData: usize, returnSize: usize): u32;
@external("env", "proxy_get_buffer_status")
export declare function proxy_get_buffer_status(bufferType: u32, returnSize: usize, returnUnused: usize): u32;
@external("env", "proxy_set_buffer_bytes")
export declare function proxy_set_buffer_bytes(bufferType: u32, start: usize, size: usize, dataPtr: usize, dataSize: usize): u32;

@external("env", "proxy_get_header_map_size")
export declare function proxy_get_header_map_size(mapType: u32, returnSize: usize): u32;
@external("env", "proxy_get_header_map_pairs")
export declare function proxy_get_header_map_pairs(mapType: u32, returnData: usize, returnSize: usize): u32;
@external("env", "proxy_set_header_map_pairs")
export declare function proxy_set_header_map_pairs(mapType: u32, dataPtr: usize, dataSize: usize): u32;
@external("env", "proxy_get_header_map_value")
export declare function proxy_get_header_map_value(mapType: u32, keyPtr: usize, keySize: usize, returnData: usize, returnSize: usize): u32;
@external("env", "proxy_add_header_map_value")
export declare function proxy_add_header_map_value(mapType: u32, keyPtr: usize, keySize: usize, valuePtr: usize, valueSize: usize): u32;
@external("env", "proxy_replace_header_map_value")
export declare function proxy_replace_header_map_value(mapType: u32, keyPtr: usize, keySize: usize, valuePtr: usize, valueSize: usize): u32;
@external("env", "proxy_remove_header_map_value")
export declare function proxy_remove_header_map_value(mapType: u32, keyPtr: usize, keySize: usize): u32;

@external("env", "proxy_continue_stream")
export declare function proxy_continue_stream(streamType: u32): u32;
@external("env", "proxy_close_stream")
export declare function proxy_close_stream(streamType: u32): u32;
@external("env", "proxy_get_status")
export declare function proxy_get_status(returnCode: usize, returnMessageData: usize, returnMessageSize: usize): u32;

@external("env", "proxy_send_local_response")
export declare function proxy_send_local_response(
  statusCode: u32, detailsPtr: usize, detailsSize: usize,
  bodyPtr: usize, bodySize: usize,
  headersPtr: usize, headersSize: usize, grpcStatus: i32): u32;

@external("env", "proxy_http_call")
export declare function proxy_http_call(
  upstreamPtr: usize, upstreamSize: usize,
  headersPtr: usize, headersSize: usize,
  bodyPtr: usize, bodySize: usize,
  trailersPtr: usize, trailersSize: usize,
  timeoutMs: u32, returnToken: usize): u32;

@external("env", "proxy_get_shared_data")
export declare function proxy_get_shared_data(keyPtr: usize, keySize: usize, returnData: usize, returnSize: usize, returnCas: usize): u32;
@external("env", "proxy_set_shared_data")
export declare function proxy_set_shared_data(keyPtr: usize, keySize: usize, valuePtr: usize, valueSize: usize, cas: u32): u32;

@external("env", "proxy_get_property")
export declare function proxy_get_property(pathPtr: usize, pathSize: usize, returnData: usize, returnSize: usize): u32;
@external("env", "proxy_set_property")
export declare function proxy_set_property(pathPtr: usize, pathSize: usize, valuePtr: usize, valueSize: usize): u32;

@external("env", "proxy_define_metric")
export declare function proxy_define_metric(metricType: u32, namePtr: usize, nameSize: usize, returnId: usize): u32;
@external("env", "proxy_increment_metric")
export declare function proxy_increment_metric(metricId: u32, offset: i64): u32;
@external("env", "proxy_record_metric")
export declare function proxy_record_metric(metricId: u32, value: u64): u32;
