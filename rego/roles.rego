# Package portcullis.roles holds the built-in roles and what cluster
# privileges imply: data.portcullis.roles[name].cluster lists the cluster
# privileges of built-in role name ("all" covers every cluster privilege).
#
# Roles created through the API (PUT /_security/role/<name>) are compiled from
# the projection into the generated module, data.portcullis.constraints.roles,
# in the same form. A role created there may not take the name of a document
# of this package (the engine refuses it).
package portcullis.roles

# superuser is Elasticsearch's built-in superuser role: every privilege. The
# policy also allows every request of a user holding it (rule "superuser").
superuser := {"cluster": ["all"]}

# implied_cluster_privileges[p] lists the cluster privileges that holding p
# grants besides p itself, as in Elasticsearch, where a privilege grants the
# actions of its patterns (ClusterPrivilegeResolver): manage_security covers
# cluster:admin/xpack/security/*, hence every API key, token, user and role
# privilege; manage covers every cluster action but the security ones. "all"
# grants everything and is not listed. The relation is written out whole,
# not closed transitively by the policy.
implied_cluster_privileges := {
	"manage_security": {
		"read_security", "manage_api_key", "manage_own_api_key", "grant_api_key", "manage_token",
		"manage_saml", "manage_oidc", "manage_service_account", "manage_user_profile",
	},
	"manage_api_key": {"manage_own_api_key", "grant_api_key"},
	"manage": {
		"monitor", "manage_index_templates", "manage_ingest_pipelines", "manage_pipeline", "read_pipeline",
		"manage_ilm", "read_ilm", "manage_slm", "read_slm", "create_snapshot", "monitor_snapshot",
		"manage_ml", "monitor_ml", "manage_transform", "monitor_transform",
		"manage_data_frame_transforms", "monitor_data_frame_transforms",
		"manage_watcher", "monitor_watcher", "manage_rollup", "monitor_rollup",
		"manage_ccr", "read_ccr", "manage_enrich", "monitor_enrich", "manage_inference", "monitor_inference",
		"manage_autoscaling", "manage_logstash_pipelines", "cancel_task", "transport_client",
		"manage_search_application", "manage_behavioral_analytics", "post_behavioral_analytics_event",
		"manage_search_query_rules", "manage_search_synonyms", "manage_connector", "monitor_connector",
		"monitor_text_structure", "monitor_data_stream_global_retention", "manage_data_stream_global_retention",
	},
	"manage_ingest_pipelines": {"manage_pipeline", "read_pipeline"},
	"manage_pipeline": {"manage_ingest_pipelines", "read_pipeline"},
	"manage_ilm": {"read_ilm"},
	"manage_slm": {"read_slm"},
	"create_snapshot": {"monitor_snapshot"},
	"manage_ml": {"monitor_ml"},
	"manage_transform": {"monitor_transform", "manage_data_frame_transforms", "monitor_data_frame_transforms"},
	"manage_data_frame_transforms": {"monitor_data_frame_transforms", "manage_transform", "monitor_transform"},
	"manage_watcher": {"monitor_watcher"},
	"manage_rollup": {"monitor_rollup"},
	"manage_ccr": {"read_ccr"},
	"manage_enrich": {"monitor_enrich"},
	"manage_inference": {"monitor_inference"},
	"manage_connector": {"monitor_connector"},
}

# index_privilege_actions[p] are the action patterns index privilege p
# grants: Elasticsearch 8.x's IndexPrivilege, as es-security-protocol.md §1.3
# lists it (keep the two in step).
index_privilege_actions := {
	"all": ["indices:*", "internal:transport/proxy/indices:*"],
	"read": ["indices:data/read/*", "indices:admin/resolve/index", "indices:admin/resolve/cluster"],
	"read_cross_cluster": [
		"internal:transport/proxy/indices:data/read/*", "indices:admin/shards/search_shards",
		"indices:admin/search/search_shards", "indices:admin/resolve/cluster", "indices:data/read/esql",
		"indices:data/read/esql/compute",
	],
	"create": ["indices:data/write/index*", "indices:data/write/bulk*", "indices:data/write/simulate/bulk*"],
	"create_doc": [
		"indices:data/write/index", "indices:data/write/index\\[*", "indices:data/write/index:op_type/create",
		"indices:data/write/bulk*", "indices:data/write/simulate/bulk*",
	],
	"index": ["indices:data/write/index*", "indices:data/write/bulk*", "indices:data/write/update*", "indices:data/write/simulate/bulk*"],
	"delete": ["indices:data/write/delete*", "indices:data/write/bulk*"],
	"write": ["indices:data/write/*", "indices:admin/mapping/auto_put"],
	"monitor": ["indices:monitor/*"],
	"manage": ["indices:monitor/*", "indices:admin/*", "indices:data/read/field_caps*", "indices:data/read/xpack/rollup/get/index/caps*"],
	"create_index": ["indices:admin/create", "indices:admin/auto_create", "indices:admin/data_stream/create"],
	"delete_index": ["indices:admin/delete", "indices:admin/data_stream/delete"],
	"view_index_metadata": [
		"indices:admin/aliases/get", "indices:admin/get", "indices:admin/mappings/fields/get*", "indices:admin/mappings/get",
		"indices:admin/shards/search_shards", "indices:admin/search/search_shards", "indices:admin/validate/query*",
		"indices:monitor/settings/get", "indices:admin/ilm/explain", "indices:admin/data_stream/lifecycle/get",
		"indices:admin/data_stream/lifecycle/explain", "indices:admin/data_stream/get", "indices:admin/resolve/index",
		"indices:admin/resolve/cluster", "indices:data/read/field_caps*", "indices:data/read/xpack/rollup/get/index/caps*",
		"indices:monitor/transform/checkpoint*",
	],
	"manage_follow_index": [
		"indices:admin/xpack/ccr/put_follow", "indices:admin/xpack/ccr/unfollow", "indices:admin/close*",
		"indices:admin/data_stream/promote", "indices:admin/rollover",
	],
	"manage_leader_index": ["indices:admin/xpack/ccr/forget_follower*"],
	"manage_ilm": ["indices:admin/ilm/*"],
	"manage_data_stream_lifecycle": ["indices:admin/data_stream/lifecycle/*"],
	"maintenance": ["indices:admin/refresh*", "indices:admin/flush*", "indices:admin/synced_flush", "indices:admin/forcemerge*"],
	"auto_configure": ["indices:admin/mapping/auto_put", "indices:admin/auto_create"],
}

# cluster_privilege_actions[p] are the action patterns cluster privilege p
# grants for content requests (§1.4; management requests of the gateway's own
# APIs are decided by privilege name above).
cluster_privilege_actions := {
	"all": ["cluster:*", "indices:admin/template/*", "indices:admin/index_template/*"],
	"monitor": ["cluster:monitor/*"],
	"manage": [
		"cluster:monitor/*", "cluster:admin/ingest/*", "cluster:admin/ilm/*", "cluster:admin/component_template/*",
		"cluster:admin/settings/*", "cluster:admin/reroute", "cluster:admin/snapshot/*", "cluster:admin/repository/*",
		"cluster:admin/script/*", "cluster:admin/tasks/*", "cluster:admin/indices/scroll/clear_all",
		"indices:admin/template/*", "indices:admin/index_template/*",
	],
	"manage_security": ["cluster:admin/xpack/security/*"],
	"manage_index_templates": ["indices:admin/template/*", "indices:admin/index_template/*", "cluster:admin/component_template/*"],
	"manage_ingest_pipelines": ["cluster:admin/ingest/pipeline/*", "cluster:monitor/ingest/pipeline/*"],
	"manage_pipeline": ["cluster:admin/ingest/pipeline/*", "cluster:monitor/ingest/pipeline/*"],
	"read_pipeline": ["cluster:admin/ingest/pipeline/get", "cluster:monitor/ingest/pipeline/*"],
	"manage_ilm": ["cluster:admin/ilm/*"],
	"read_ilm": ["cluster:admin/ilm/get", "cluster:admin/ilm/operation_mode/get"],
	"monitor_ml": ["cluster:monitor/xpack/ml/*"],
	"manage_ml": ["cluster:admin/xpack/ml/*", "cluster:monitor/xpack/ml/*"],
}
