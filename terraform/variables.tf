# Inputs. None of them is a secret: secrets are put into Secrets Manager by operators
# (secrets.tf), and RDS keeps its master password itself (database.tf).

variable "aws_region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "Environment name, used in resource names and tags."
  type        = string
  default     = "production"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2-16 lower-case letters, digits or dashes."
  }
}

variable "vpc_cidr" {
  description = "Address range of the VPC (a /16: subnets are /24s carved from it)."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && endswith(var.vpc_cidr, "/16")
    error_message = "vpc_cidr must be a /16 network such as 10.0.0.0/16."
  }
}

variable "az_count" {
  description = "Number of availability zones (2 or 3)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3."
  }
}

variable "allowed_ingress_cidrs" {
  description = "Client networks allowed to reach the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "certificate_arn" {
  description = "ARN of the ACM certificate the HTTPS listener serves."
  type        = string

  validation {
    condition     = startswith(var.certificate_arn, "arn:")
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "ecr_repository_url" {
  description = "ECR repository of the Nexum image, without a tag."
  type        = string
}

variable "image_tag" {
  description = "Tag of the Nexum image to run: a release or commit, never latest."
  type        = string

  validation {
    condition     = length(var.image_tag) > 0 && var.image_tag != "latest"
    error_message = "image_tag must name a release or commit; latest is not deployable."
  }
}

variable "db_engine_version" {
  description = "PostgreSQL version of RDS (the major version follows the parameter group family, postgres15)."
  type        = string
  default     = "15"
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.r6g.large"
}

variable "db_allocated_storage" {
  description = "Initial database storage, GiB."
  type        = number
  default     = 100
}

variable "db_max_allocated_storage" {
  description = "Upper bound of storage autoscaling, GiB."
  type        = number
  default     = 1000
}

variable "task_cpu" {
  description = "CPU units of one API task (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "task_memory" {
  description = "Memory of one API task, MiB."
  type        = number
  default     = 2048
}

variable "api_workers" {
  description = "Worker processes in one task (NEXUM_API_WORKERS)."
  type        = number
  default     = 2

  validation {
    condition     = var.api_workers >= 1 && var.api_workers <= 64
    error_message = "api_workers must be between 1 and 64."
  }
}

variable "min_capacity" {
  description = "Fewest API tasks."
  type        = number
  default     = 3
}

variable "max_capacity" {
  description = "Most API tasks."
  type        = number
  default     = 20
}

variable "cpu_target" {
  description = "Average CPU utilisation, percent, that scaling aims for."
  type        = number
  default     = 70
}

variable "memory_target" {
  description = "Average memory utilisation, percent, that scaling aims for."
  type        = number
  default     = 80
}

variable "waf_rate_limit" {
  description = "Requests per client address in any 5 minutes before the WAF blocks it (5 x NEXUM_RATE_LIMIT_GLOBAL)."
  type        = number
  default     = 10000
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the API's logs."
  type        = number
  default     = 365
}

variable "cors_origins" {
  description = "Origins allowed by CORS (NEXUM_CORS_ORIGINS)."
  type        = list(string)
  default     = ["https://app.yourbank.com", "https://admin.yourbank.com"]
}

variable "use_redis" {
  description = "Whether Nexum gets a NEXUM_REDIS_URL secret (shared rate limits across tasks)."
  type        = bool
  default     = true
}

variable "extra_settings" {
  description = "Further NEXUM_* settings, or overrides (for example Kafka's); never secrets."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for name in keys(var.extra_settings) :
      startswith(name, "NEXUM_") && !contains([
        "NEXUM_DATABASE_URL", "NEXUM_DATABASE_REPLICA_URLS", "NEXUM_JWT_SECRET",
        "NEXUM_ENCRYPTION_MASTER_KEY", "NEXUM_ENCRYPTION_PREVIOUS_KEYS", "NEXUM_REDIS_URL",
      ], name)
    ])
    error_message = "extra_settings takes NEXUM_* settings that are not secrets; secrets go to Secrets Manager."
  }
}
