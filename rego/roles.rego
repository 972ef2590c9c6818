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
