# RDS PostgreSQL: encrypted, Multi-AZ, backed up for 30 days, never publicly reachable.
#
# The master user's password is generated and kept by RDS in Secrets Manager
# (manage_master_user_password): it is never a Terraform input, and never in the state.
# Nexum does not connect as the master user: create its own role once (docs/deployment.md),
# then put its URL into the NEXUM_DATABASE_URL secret (secrets.tf).

resource "aws_db_subnet_group" "nexum_db" {
  name       = "${local.name}-db"
  subnet_ids = aws_subnet.nexum_private[*].id
}

resource "aws_db_parameter_group" "nexum_db" {
  name   = "${local.name}-postgres15"
  family = "postgres15"

  parameter {
    name         = "shared_preload_libraries"
    value        = "pg_stat_statements"
    apply_method = "pending-reboot"
  }

  # Connections only over TLS.
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  # Slow statements, and schema changes; never the bound values (personal data).
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_parameter_max_length"
    value = "0"
  }

  parameter {
    name  = "log_parameter_max_length_on_error"
    value = "0"
  }

  parameter {
    name  = "idle_in_transaction_session_timeout"
    value = "60000"
  }
}

resource "aws_db_instance" "nexum_db" {
  identifier = local.name

  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class

  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true

  db_name                     = "nexum_production"
  username                    = "nexum_admin"
  manage_master_user_password = true

  multi_az               = true
  publicly_accessible    = false
  vpc_security_group_ids = [aws_security_group.nexum_db.id]
  db_subnet_group_name   = aws_db_subnet_group.nexum_db.name
  parameter_group_name   = aws_db_parameter_group.nexum_db.name

  backup_retention_period   = 30
  backup_window             = "03:00-04:00"
  maintenance_window        = "sun:04:00-sun:05:00"
  copy_tags_to_snapshot     = true
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.name}-final"

  auto_minor_version_upgrade      = true
  enabled_cloudwatch_logs_exports = ["postgresql", "upgrade"]
  performance_insights_enabled    = true
  monitoring_interval             = 60
  monitoring_role_arn             = aws_iam_role.nexum_monitoring.arn

  tags = {
    Name = "nexum-production-db"
  }
}
