//! The admin commands (`site`, `customer`, `user`, `token`, `archive`): the same requests to
//! the admin API or to `tenancy::Tenancy`, whichever `remote::Backend` says.

use super::remote::{
    connect_addr, remote_call_with, remote_json, remote_put, url_segment, Backend,
};
use super::{Command, CustomerCommand, SiteCommand, TokenCommand, UserCommand};
use crate::config::Settings;
use crate::store::Store;
use crate::tenancy::customers::Customer;
use crate::tenancy::sites::{Site, SiteSpec};
use crate::tenancy::tokens::TokenRequest;
use crate::tenancy::users::{Membership, User};
use crate::tenancy::{Manager, Tenancy, TokenAccess};
use anyhow::{anyhow, bail};
use std::time::Duration;

/// Runs an admin command.
pub async fn run_admin(command: Command, settings: Settings) -> anyhow::Result<()> {
    let backend = Backend::connect(&settings).await?;
    match command {
        Command::Serve | Command::MigrateStore => {
            bail!("serve and migrate-store are not admin commands")
        }
        Command::Site(SiteCommand::Add(a)) => {
            let spec = SiteSpec {
                domain: a.domain,
                aliases: a.aliases,
                timezone: Some(a.timezone),
                ip_mask_bytes: Some(a.ip_mask_bytes),
                respect_dnt: Some(!a.ignore_dnt),
                excluded_ranges: a.excluded_ranges,
                customer: a.customer,
            };
            let site: Site = match &backend {
                Backend::Remote { base, token } => {
                    let v = remote_json(
                        base,
                        token,
                        "POST",
                        "/api/admin/sites",
                        Some(serde_json::to_value(&spec)?),
                    )?;
                    serde_json::from_value(v)?
                }
                Backend::Local(tenancy) => tenancy.add_site(spec).await?,
            };
            println!("added site {} (id {})", site.domain, site.id);
        }
        Command::Site(SiteCommand::List { json }) => {
            let sites: Vec<Site> = match &backend {
                Backend::Remote { base, token } => serde_json::from_value(remote_json(
                    base,
                    token,
                    "GET",
                    "/api/admin/sites",
                    None,
                )?)?,
                Backend::Local(tenancy) => tenancy.sites().await?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&sites)?);
            } else {
                println!("{:<6} {:<32} {:<20} ALIASES", "ID", "DOMAIN", "TIMEZONE");
                for s in sites {
                    println!(
                        "{:<6} {:<32} {:<20} {}",
                        s.id,
                        s.domain,
                        s.timezone,
                        s.aliases.join(",")
                    );
                }
            }
        }
        Command::Site(SiteCommand::Remove { domain }) => {
            match &backend {
                Backend::Remote { base, token } => {
                    let path = format!("/api/admin/sites/{}", url_segment(&domain));
                    remote_json(base, token, "DELETE", &path, None)?;
                }
                Backend::Local(tenancy) => {
                    let site = tenancy
                        .site_by_domain(&domain)
                        .await?
                        .ok_or_else(|| anyhow!("no site {domain}"))?;
                    tenancy.remove_site(site.id).await?;
                }
            }
            println!("removed site {domain}");
        }
        Command::Token(TokenCommand::Create {
            site,
            customer,
            manage,
        }) => {
            let access = if manage {
                TokenAccess::Manage
            } else {
                TokenAccess::Read
            };
            let token = match &backend {
                Backend::Remote { base, token } => {
                    let v = remote_json(
                        base,
                        token,
                        "POST",
                        "/api/admin/tokens",
                        Some(
                            serde_json::json!({"site": site, "customer": customer, "access": access}),
                        ),
                    )?;
                    v["token"].as_str().unwrap_or_default().to_string()
                }
                Backend::Local(tenancy) => {
                    let request = TokenRequest {
                        site,
                        customer,
                        access,
                    };
                    tenancy.create_token(&Manager::Admin, request).await?.token
                }
            };
            println!("{token}");
        }
        Command::Customer(CustomerCommand::Add { handle, name }) => {
            let name = name.unwrap_or_default();
            let (customer, created): (Customer, bool) = match &backend {
                Backend::Remote { base, token } => {
                    let path = format!("/api/admin/customers/{}", url_segment(&handle));
                    let v = tokio::task::block_in_place(|| {
                        remote_put(base, token, &path, serde_json::json!({"name": name}))
                    })?;
                    (serde_json::from_value(v.0)?, v.1)
                }
                Backend::Local(tenancy) => tenancy.put_customer(&handle, &name).await?,
            };
            let verb = if created { "added" } else { "updated" };
            println!("{verb} customer {} (id {})", customer.handle, customer.id);
        }
        Command::Customer(CustomerCommand::List { json }) => {
            let customers: Vec<Customer> = match &backend {
                Backend::Remote { base, token } => serde_json::from_value(remote_json(
                    base,
                    token,
                    "GET",
                    "/api/admin/customers",
                    None,
                )?)?,
                Backend::Local(tenancy) => tenancy.customers().await?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&customers)?);
            } else {
                println!("{:<6} {:<32} NAME", "ID", "HANDLE");
                for c in customers {
                    println!("{:<6} {:<32} {}", c.id, c.handle, c.name);
                }
            }
        }
        Command::Customer(CustomerCommand::Remove { handle }) => {
            match &backend {
                Backend::Remote { base, token } => {
                    let path = format!("/api/admin/customers/{}", url_segment(&handle));
                    remote_json(base, token, "DELETE", &path, None)?;
                }
                Backend::Local(tenancy) => {
                    let c = tenancy.customer_by_handle(&handle).await?;
                    tenancy.remove_customer(c.id).await?;
                }
            }
            println!("removed customer {handle}");
        }
        Command::User(cmd) => user_command(cmd, &backend, &settings).await?,
        Command::Archive => {
            let days = match &backend {
                Backend::Remote { base, token } => {
                    println!("the server at {base} is archiving (this may take a while)");
                    let v = tokio::task::block_in_place(|| {
                        remote_call_with(
                            base,
                            token,
                            "/api/admin/archive",
                            Duration::from_secs(6 * 3600),
                        )
                    })?;
                    v["archived_days"].as_u64().unwrap_or(0)
                }
                Backend::Local(tenancy) => archive_locally(tenancy).await? as u64,
            };
            println!("archived {days} days");
        }
    }
    Ok(())
}

/// Archives the data directory's finished days with a progress bar.
async fn archive_locally(tenancy: &Tenancy) -> anyhow::Result<usize> {
    let store: std::sync::Arc<dyn Store> = tenancy.store().clone();
    let sites = crate::tenancy::sites::SiteRegistry::default();
    sites.replace(tenancy.sites().await?);
    let clock: crate::clock::SharedClock = std::sync::Arc::new(crate::clock::SystemClock);
    let archive = crate::stats::archive::Archive::load(store, sites, clock).await?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} days, {eta} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let made = archive
        .run_with_progress(|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await?;
    bar.finish_and_clear();
    Ok(made)
}

async fn all_users(backend: &Backend) -> anyhow::Result<Vec<User>> {
    Ok(match backend {
        Backend::Remote { base, token } => {
            serde_json::from_value(remote_json(base, token, "GET", "/api/admin/users", None)?)?
        }
        Backend::Local(tenancy) => tenancy.users().await?,
    })
}

async fn user_command(
    cmd: UserCommand,
    backend: &Backend,
    settings: &Settings,
) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            email,
            customer,
            role,
        } => {
            let email = crate::tenancy::users::normalise_email(&email)?;
            let handle = crate::tenancy::customers::normalise_handle(&customer)?;
            let mut memberships: Vec<Membership> = all_users(backend)
                .await?
                .into_iter()
                .find(|u| u.email == email)
                .map(|u| u.memberships)
                .unwrap_or_default();
            memberships.retain(|m| m.customer != handle);
            memberships.push(Membership {
                customer: handle,
                role: role.into(),
            });
            let user: User = match backend {
                Backend::Remote { base, token } => {
                    let path = format!("/api/admin/users/{}", url_segment(&email));
                    let body = serde_json::json!({"memberships": memberships});
                    let v = tokio::task::block_in_place(|| remote_put(base, token, &path, body))?;
                    serde_json::from_value(v.0)?
                }
                Backend::Local(tenancy) => {
                    tenancy
                        .put_member(&Manager::Admin, &email, &memberships)
                        .await?
                        .0
                }
            };
            let roles: Vec<String> = user
                .memberships
                .iter()
                .map(|m| format!("{} ({})", m.customer, m.role.as_str()))
                .collect();
            println!("user {}: {}", user.email, roles.join(", "));
        }
        UserCommand::List { json } => {
            let users = all_users(backend).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                println!("{:<6} {:<40} {:<9} ROLES", "ID", "EMAIL", "PASSWORD");
                for u in users {
                    let roles: Vec<String> = u
                        .memberships
                        .iter()
                        .map(|m| format!("{}:{}", m.customer, m.role.as_str()))
                        .collect();
                    let pw = if u.has_password { "set" } else { "not set" };
                    println!("{:<6} {:<40} {:<9} {}", u.id, u.email, pw, roles.join(","));
                }
            }
        }
        UserCommand::Remove { email } => {
            match backend {
                Backend::Remote { base, token } => {
                    let path = format!("/api/admin/users/{}", url_segment(&email));
                    remote_json(base, token, "DELETE", &path, None)?;
                }
                Backend::Local(tenancy) => tenancy.remove_member(&Manager::Admin, &email).await?,
            }
            println!("removed user {email}");
        }
        UserCommand::PasswordLink { email } => {
            let url = match backend {
                Backend::Remote { base, token } => {
                    let path = format!("/api/admin/users/{}/password-link", url_segment(&email));
                    let v = remote_json(base, token, "POST", &path, None)?;
                    v["url"].as_str().unwrap_or_default().to_string()
                }
                Backend::Local(tenancy) => {
                    let base = match &settings.config.public_url {
                        Some(u) => u.clone(),
                        None => format!("http://{}", connect_addr(settings)),
                    };
                    let now = chrono::Utc::now().timestamp();
                    tenancy
                        .password_link(&Manager::Admin, &email, &base, now)
                        .await?
                        .url
                }
            };
            println!("{url}");
        }
    }
    Ok(())
}
