/* tests.h — the one list of tests; runner.c runs them in this order. */
// clang-format off
#define TEST_LIST(X) \
  X(book_add_sets_best_and_level) \
  X(book_levels_are_ordered_best_first) \
  X(book_fifo_queue_position) \
  X(book_cancel_execute_delete) \
  X(book_set_level_l2) \
  X(book_anonymous_liquidity_queue) \
  X(book_truncate_forgets_deep_levels) \
  X(book_queue_compaction_keeps_positions) \
  X(book_limits_and_times) \
  X(book_check_detects_corruption) \
  X(book_no_allocation_after_warmup) \
  X(book_property_random_ops_match_reference) \
  X(lobster_parse_message_fields) \
  X(lobster_parse_message_rejects_bad_rows) \
  X(lobster_parse_book_row_checks) \
  X(lobster_calendar) \
  X(lobster_textin_lines) \
  X(lobster_textin_zstd_and_truncation) \
  X(lobster_textin_pipe_and_skippable_frame) \
  X(lobster_error_names_the_right_file) \
  X(lobster_replay_steps) \
  X(lobster_replay_reports_mismatch) \
  X(lobster_bundled_sample_zero_mismatches) \
  X(lobster_shared_data_zero_mismatches) \
  X(cli_help_version_usage) \
  X(cli_bad_input_exit_1_with_file_and_line) \
  X(cli_replay_verify_mismatch_exit_1) \
  X(cli_replay_json) \
  X(cli_demo_runs) \
  X(features_columns_and_config) \
  X(features_causality_property) \
  X(features_microprice_hand_chain) \
  X(labels_parse_horizons) \
  X(labels_hand_series) \
  X(labels_alpha_from_training_rows_only) \
  X(npy_round_trip_and_bad_files) \
  X(features_cli_end_to_end) \
  X(features_rows_at_timestamp_ends) \
  X(features_cli_bad_input) \
  X(features_match_naive_reference) \
  X(features_ofi_hand_cases) \
  X(features_volatility_hand_bars) \
  X(nn_linear_matches_torch) \
  X(nn_layernorm_matches_torch) \
  X(nn_activations_match_torch) \
  X(nn_xent_matches_torch) \
  X(nn_lstm_matches_torch) \
  X(nn_attention_matches_torch) \
  X(nn_gradcheck_linear) \
  X(nn_gradcheck_layernorm) \
  X(nn_gradcheck_activations) \
  X(nn_gradcheck_xent) \
  X(nn_gradcheck_lstm) \
  X(nn_gradcheck_attention)
// clang-format on
