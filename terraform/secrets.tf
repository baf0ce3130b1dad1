# The secrets Nexum reads, as Secrets Manager secrets that ECS injects into the container as
# NEXUM_* variables. Terraform creates the containers only: operators put the values (from
# the vault, with `aws secretsmanager put-secret-value`), so no secret is ever a Terraform
# variable, a value in these files, or an attribute in the state. Until a value is put, the
# tasks cannot start: there is no default to fall back on.

locals {
  secret_settings = concat(
    ["NEXUM_DATABASE_URL", "NEXUM_JWT_SECRET", "NEXUM_ENCRYPTION_MASTER_KEY"],
    var.use_redis ? ["NEXUM_REDIS_URL"] : [],
  )
}

resource "aws_secretsmanager_secret" "nexum" {
  for_each = toset(local.secret_settings)

  name                    = "${local.name}/${each.key}"
  description             = "Nexum ${each.key} (${var.environment})"
  recovery_window_in_days = 30
}
