terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.70"
    }
  }

  # Remote state, configured at init time so that no account details live here:
  #   terraform init -backend-config=backend.hcl
  # with bucket, key, region, use_lockfile = true and encrypt = true in backend.hcl.
  # The state holds no secret values (see secrets.tf), but it is still private.
  backend "s3" {}
}
