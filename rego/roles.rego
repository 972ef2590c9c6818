# Package portcullis.roles holds the roles the policy knows and what they
# grant: data.portcullis.roles[name].cluster lists the cluster privileges of
# role name ("all" covers every cluster privilege).
#
# Only the built-in roles are defined here. Roles created through the API will
# be compiled from the projection, like constraints; a role defined there may
# not reuse a built-in name.
package portcullis.roles

# superuser is Elasticsearch's built-in superuser role: every privilege. The
# policy also allows every request of a user holding it (rule "superuser").
superuser := {"cluster": ["all"]}
